"""Typed HTTP clients for the companion services (one module per service)."""
