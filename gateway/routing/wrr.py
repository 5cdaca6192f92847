"""Smooth weighted round-robin, nginx's algorithm, with no I/O.

Each pick adds every eligible peer's weight to its running `current`, chooses the largest
`current`, and takes the sum of the eligible weights off the chosen one. Over any run of
`sum(weights)` picks from the same eligible set, each peer is chosen exactly `weight` times,
spread out (5:1:1 gives a a b a c a a) rather than in bursts.

A peer left out of a pick (full, cooling down, already tried) keeps its `current`, as in
nginx; weight-0 peers are never picked (they are standbys the caller handles).
"""

from __future__ import annotations

from collections.abc import Iterable


class SmoothWeighted:
    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def pick(self, peers: Iterable[tuple[str, int]]) -> str | None:
        """The next peer among `(name, weight)` pairs; None when no weight is above 0."""
        current = self._current
        best: str | None = None
        best_current = 0
        total = 0
        for name, weight in peers:
            if weight <= 0:
                continue
            value = current.get(name, 0) + weight
            current[name] = value
            total += weight
            if best is None or value > best_current:
                best, best_current = name, value
        if best is not None:
            current[best] = best_current - total
        return best
