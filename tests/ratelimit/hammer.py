"""One load process of the accuracy test: hit one key as fast as possible, print the result.

Usage: ``python -m tests.ratelimit.hammer URL KEY LIMIT START_AT DURATION_S``. The process
connects, waits until the wall-clock ``START_AT`` (shared by all processes), hits ``KEY``
(``LIMIT`` per second) until ``START_AT + DURATION_S`` and prints ``accepted attempts late``
(``late`` = 1 when it was not ready before ``START_AT``).
"""

from __future__ import annotations

import asyncio
import sys
import time

from ratelimit import RedisLimiter, redis_from_url


async def hammer(url: str, key: str, limit: int, start_at: float, duration_s: float) -> str:
    client = redis_from_url(url)
    try:
        limiter = RedisLimiter(client)
        await limiter.hit(f"{key}:warm-up", 1, 1.0)  # connect and load the script first
        late = int(time.time() > start_at)
        await asyncio.sleep(max(start_at - time.time(), 0.0))
        accepted = attempts = 0
        deadline = start_at + duration_s
        while time.time() < deadline:
            attempts += 1
            accepted += (await limiter.hit(key, limit, 1.0)).allowed
        return f"{accepted} {attempts} {late}"
    finally:
        await client.aclose()


def main(argv: list[str]) -> None:
    url, key, limit, start_at, duration_s = argv
    print(asyncio.run(hammer(url, key, int(limit), float(start_at), float(duration_s))))


if __name__ == "__main__":
    main(sys.argv[1:])
