"""Servers the tests start end with the test run, even a run killed before its teardown.

A run that pytest-timeout ends (it calls `os._exit`) or that is killed runs no fixture
teardown, so without this the `redis-server`, `mariadbd` and gateway processes it started
would keep running, holding ports and memory on the machine.
"""

from __future__ import annotations

import functools
import shutil


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def tied_to_this_process(argv: list[str]) -> list[str]:
    """`argv`, run so that Linux sends it SIGTERM when the thread that starts it ends.

    util-linux's `setpriv --pdeathsig` sets that up and then runs `argv` in its own place
    (same pid, so `terminate()` and `wait()` reach the server itself). Where `setpriv` is
    missing (it is essential on Debian), `argv` runs as it is. Start servers from the main
    thread: a server started from a short-lived thread would end with that thread.
    """
    setpriv = _setpriv()
    return argv if setpriv is None else [setpriv, "--pdeathsig", "TERM", "--", *argv]
