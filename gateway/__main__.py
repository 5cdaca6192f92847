"""`python -m gateway` and the `bella-gateway` script: the only place uvloop is installed."""

from __future__ import annotations

import sys

import uvloop

from gateway import cli


def main() -> int:
    return cli.main(loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    sys.exit(main())
