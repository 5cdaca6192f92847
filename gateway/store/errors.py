"""The store's own exceptions; backends map their drivers' errors onto these at the boundary."""

from __future__ import annotations

from gateway.store.base import DuplicateError

__all__ = ["Contention", "DuplicateError", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The database cannot be reached (refused, lost, timed out, too many connections…)."""


class Contention(Exception):
    """The database gave up a transaction to let a concurrent one through (a deadlock or a
    lock wait timeout); running it again is safe."""
