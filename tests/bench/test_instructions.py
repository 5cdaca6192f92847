"""The instruction counter's pure parts: reading callgrind's totals, the table."""

from __future__ import annotations

import pytest

from bench.instructions import table, totals
from bench.procs import BenchError

DUMPED = """version: 1
creator: callgrind-3.19.0
desc: Trigger: dump
events: Ir
summary: 0
fn=(1) main
16 1200
totals: 596812345
"""


def test_totals_come_from_the_last_totals_line_not_the_summary() -> None:
    assert totals(DUMPED) == 596_812_345
    with pytest.raises(BenchError):
        totals("events: Ir\nsummary: 0\n")


def test_the_table_gives_each_target_against_the_bare_proxy() -> None:
    counts = {
        ("chat", "bare"): 600_000.0,
        ("chat", "gateway"): 750_000.0,
    }
    lines = table(counts).splitlines()
    assert lines[1].split() == ["chat", "bare", "600.0", "1.00"]
    assert lines[2].split() == ["chat", "gateway", "750.0", "0.80"]
