"""Hot spots from a py-spy profile, without I/O: collapsed stacks in, ranked frames out.

`py-spy record --format raw` writes one line per distinct stack, outermost frame first:

    main (bench/bare_proxy.py:60);run_app (aiohttp/web.py:502);relay (bench/bare_proxy.py:23) 17

Frames are ranked with their line numbers dropped, so a function counts once however many
of its lines were sampled. Only Python frames are seen: the self time of the frame that runs
the event loop (`run_app`, `run`) is time spent in the loop's C code (uvloop, I/O syscalls).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

_LINE_NUMBER = re.compile(r":-?\d+\)$")
PROJECT_PACKAGES = ("gateway/", "adapters/", "ratelimit/")
# Frames that run the event loop: everything a server does is below them, so in the
# inclusive ranking they and their callers (main, the CLI) would say nothing.
LOOP_RUNNERS = frozenset(
    {
        "run_app (aiohttp/web.py)",
        "run (asyncio/runners.py)",
        "Runner.run (asyncio/runners.py)",
        "BaseEventLoop.run_forever (asyncio/base_events.py)",
        "BaseEventLoop.run_until_complete (asyncio/base_events.py)",
    }
)


@dataclass(frozen=True, slots=True)
class Hotspot:
    frame: str  # "function (path/file.py)"
    samples: int
    share: float  # of all samples


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    by_self: list[Hotspot]  # the frame on top of the stack: where the CPU was
    by_total: list[Hotspot]  # every frame below the loop: what the CPU was doing it for


def parse_collapsed(text: str) -> list[tuple[tuple[str, ...], int]]:
    """The (stack, samples) pairs of a collapsed-stack file; blank or bad lines are skipped."""
    out = []
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            out.append((tuple(frame_name(f) for f in stack.split(";")), int(count)))
    return out


def frame_name(frame: str) -> str:
    """`relay (bench/bare_proxy.py:23)` -> `relay (bench/bare_proxy.py)`."""
    return _LINE_NUMBER.sub(")", frame.strip())


def summarize(text: str, *, top: int = 15) -> Profile:
    stacks = parse_collapsed(text)
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    for stack, count in stacks:
        own[stack[-1]] += count
        for frame in set(inside_loop(stack)):  # a recursive frame counts once per sample
            within[frame] += count
    return Profile(
        samples=total,
        by_self=_ranked(own.most_common(top), total),
        by_total=_ranked(within.most_common(), total, keep=_is_project, top=top),
    )


def inside_loop(stack: Sequence[str]) -> Sequence[str]:
    """The frames below the innermost event-loop runner (the whole stack if there is none)."""
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth] in LOOP_RUNNERS:
            return stack[depth + 1 :]
    return stack


def _is_project(frame: str) -> bool:
    return any(f"({package}" in frame for package in PROJECT_PACKAGES)


def _ranked(
    counts: Iterable[tuple[str, int]],
    total: int,
    *,
    keep: Callable[[str], bool] = lambda frame: True,
    top: int | None = None,
) -> list[Hotspot]:
    kept = [(f, n) for f, n in counts if keep(f)]
    return [Hotspot(f, n, n / total if total else 0.0) for f, n in kept[:top]]


def render(profile: Profile, *, title: str) -> str:
    """Both rankings as plain text."""
    lines = [title, f"{profile.samples} samples", "", "self (top of stack):"]
    lines += _lines(profile.by_self)
    lines += ["", "total, project code only (gateway/, adapters/, ratelimit/):"]
    lines += _lines(profile.by_total)
    return "\n".join(lines) + "\n"


def _lines(spots: Sequence[Hotspot]) -> list[str]:
    return [f"  {s.share:6.1%}  {s.samples:6d}  {s.frame}" for s in spots] or ["  (none)"]
