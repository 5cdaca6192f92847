"""The store's own exceptions; backends map their drivers' errors onto these at the boundary."""

from __future__ import annotations

from gateway.store.base import DuplicateError

__all__ = ["DuplicateError", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The database cannot be reached (refused, lost, timed out, too many connections…)."""
