"""Many OS processes share one Redis limit: together they get the limit, not a multiple of it.

The sliding log admits exactly ``limit`` hits per window once it is saturated, so over a
whole number of windows the processes together get ``limit × duration`` (plus at most one
in-flight hit per process at the end).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

PROCESSES = 3
LIMIT_PER_S = 50
DURATION_S = 3
STARTUP_GRACE_S = 2.0
REPO_ROOT = Path(__file__).resolve().parents[2]


async def run_hammer(url: str, key: str, start_at: float) -> tuple[int, int, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.ratelimit.hammer",
        url,
        key,
        str(LIMIT_PER_S),
        repr(start_at),
        str(DURATION_S),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")
    accepted, attempts, late = (int(part) for part in out.split())
    return accepted, attempts, late


async def test_three_processes_share_one_limit(redis_clean: str) -> None:
    key = f"shared-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + STARTUP_GRACE_S
    results = await asyncio.gather(*(run_hammer(redis_clean, key, start_at) for _ in range(3)))
    accepted = sum(result[0] for result in results)
    attempts = sum(result[1] for result in results)
    assert not any(result[2] for result in results), "a load process started late"
    assert attempts > 10 * accepted, "the processes did not saturate the limit"
    expected = LIMIT_PER_S * DURATION_S
    assert abs(accepted - expected) <= 0.05 * expected, (accepted, expected, results)
