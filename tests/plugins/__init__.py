"""Fixtures shared by every suite, loaded as pytest plugins from tests/conftest.py."""
