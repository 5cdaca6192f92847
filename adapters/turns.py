"""Vendors that want strictly alternating roles: consecutive turns of one role are merged."""

from __future__ import annotations

from typing import Any


def append_turn(
    turns: list[dict[str, Any]], role: str, items: list[dict[str, Any]], field: str = "content"
) -> None:
    """Add `items` as a turn of `role`, or to the last turn when it has that role already."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][field].extend(items)
    else:
        turns.append({"role": role, field: items})
