"""Provisioner steps, one module per step (see tawa.operator.step)."""
