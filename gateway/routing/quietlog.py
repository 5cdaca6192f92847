"""A log line at most once per interval: for failures that repeat on every request."""

from __future__ import annotations

import logging
import time

from ratelimit import Clock


class QuietLog:
    """Logs the first of a burst, then at most once every `every_s`, with the count skipped."""

    __slots__ = ("_clock", "_every", "_logger", "_next", "_skipped")

    def __init__(
        self, logger: logging.Logger, every_s: float = 10.0, *, clock: Clock = time.monotonic
    ) -> None:
        self._logger = logger
        self._every = every_s
        self._clock = clock
        self._next = 0.0
        self._skipped = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now < self._next:
            self._skipped += 1
            return
        skipped, self._skipped = self._skipped, 0
        self._next = now + self._every
        suffix = f" ({skipped} more since the last report)" if skipped else ""
        self._logger.warning(message + suffix, *args)
