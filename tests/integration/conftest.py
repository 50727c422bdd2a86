"""Fixtures shared by the integration tests (the letters tests' running sandbox provider)."""

from tests.integration.letters_support import sandbox

__all__ = ["sandbox"]
