"""The farm's root exception."""

from __future__ import annotations


class FarmError(RuntimeError):
    """A farm command could not do what was asked; the message says what to do."""
