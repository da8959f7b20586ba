"""End-to-end suite: the whole platform as real processes (see conftest.py)."""
