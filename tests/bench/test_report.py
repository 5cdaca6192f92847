"""bench.report and bench.profile: ratios, the run kept, and py-spy hot spots."""

from __future__ import annotations

import math

import pytest

from bench import profile, report
from bench.wrk import SocketErrors, WrkResult


def result(rps: float, *, non_2xx: int = 0) -> WrkResult:
    return WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        rps=rps,
        percentiles_ms={50.0: 5.0, 75.0: 6.0, 90.0: 8.0, 99.0: 20.0},
        non_2xx=non_2xx,
        socket_errors=SocketErrors(),
    )


def row(target: str, rps: float, *, scenario: str = "chat", non_2xx: int = 0) -> report.Row:
    return report.Row(scenario, target, result(rps, non_2xx=non_2xx), 0.97, 0.99, 0.6)


def test_ratio_is_per_scenario_against_the_bare_proxy() -> None:
    rows = [
        row("bare", 8000),
        row("gateway", 6800),
        row("bare", 4000, scenario="stream"),
        row("gateway", 2000, scenario="stream"),
    ]
    ratios = report.ratios(rows)
    assert [(r.scenario, r.target) for r in ratios] == [("chat", "gateway"), ("stream", "gateway")]
    assert [r.value for r in ratios] == pytest.approx([0.85, 0.5])
    assert [r.holds for r in ratios] == [True, False]
    assert "holds" in ratios[0].describe()
    assert "MISSED" in ratios[1].describe()


def test_cpu_per_request_is_the_targets_cpu_over_its_rps() -> None:
    measured = row("gateway", 4850)  # 97 % of a core
    assert measured.cpu_per_request_us == pytest.approx(200.0)
    assert "200" in measured.cells()


def test_redis_mode_has_its_own_target() -> None:
    rows = [row("bare", 8000), row("gateway", 6000), row("gateway+redis", 6000)]
    embedded, redis = report.ratios(rows)
    assert (embedded.value, redis.value) == pytest.approx((0.75, 0.75))
    assert not embedded.holds
    assert "target ≥ 0.8" in embedded.describe()
    assert redis.holds
    assert "target ≥ 0.7: holds" in redis.describe()


def test_a_run_with_errors_makes_its_ratio_invalid_and_is_reported() -> None:
    rows = [row("bare", 8000), row("gateway", 9000, non_2xx=12)]
    (ratio,) = report.ratios(rows)
    assert not ratio.valid
    assert not ratio.holds
    assert "INVALID" in ratio.describe()
    assert report.failures(rows) == ["chat / gateway: 12 non-2xx of 90000 requests"]
    assert "**12 non-2xx**" in report.markdown(rows, header=[])


def test_best_keeps_the_fastest_run_unless_one_failed() -> None:
    runs = [row("gateway", 3000), row("gateway", 3500), row("gateway", 3200)]
    assert report.best(runs).result.rps == 3500
    failed = row("gateway", 100, non_2xx=1)
    assert report.best([*runs, failed]) is failed


def test_load_bound_and_interference_notes() -> None:
    busy = report.Row("chat", "bare", result(8000), 0.5, 0.95, 0.97)
    calm = report.Row("chat", "gateway", result(4000), 0.99, 1.0, math.nan)
    assert busy.load_bound
    assert not calm.load_bound  # NaN: nothing pinned, nothing known
    notes = report.summary_lines([busy, calm])
    assert any("load core was 97% busy" in line for line in notes)
    assert any("target used 50%" in line for line in notes)
    assert calm.cells()[-1] == "-"


def test_tables_have_one_line_per_row() -> None:
    rows = [row("bare", 8000), row("gateway", 6000)]
    assert len(report.text_table(rows).splitlines()) == 4  # header, rule, 2 rows
    table = report.markdown_table(rows)
    assert table.splitlines()[0].startswith("| scenario | target | rps |")
    assert "| chat | gateway | 6,000 |" in table


# Lines as `py-spy record --format raw` writes them (shortened): frames outermost first.
_TOP = "<module> (gateway/__main__.py:18);run_app (aiohttp/web.py:502)"
_CHAT = "chat_completions (gateway/handlers/chat.py"
COLLAPSED = "\n".join(
    [
        "<module> (gateway/__main__.py:18);main (gateway/cli.py:70)"
        ";run_app (aiohttp/web.py:502) 50",
        f"{_TOP};{_CHAT}:41);Upstream.send (gateway/upstream.py:99)"
        ";ClientSession._request (aiohttp/client.py:819) 30",
        f"{_TOP};{_CHAT}:44);KeyCache.lookup (gateway/auth.py:60) 15",
        "_connection_worker_thread (aiosqlite/core.py:59) 5",
    ]
)


def test_profile_ranks_self_time_with_line_numbers_dropped() -> None:
    summary = profile.summarize(COLLAPSED)
    assert summary.samples == 100
    assert [(h.frame, h.samples) for h in summary.by_self] == [
        ("run_app (aiohttp/web.py)", 50),
        ("ClientSession._request (aiohttp/client.py)", 30),
        ("KeyCache.lookup (gateway/auth.py)", 15),
        ("_connection_worker_thread (aiosqlite/core.py)", 5),
    ]


def test_profile_total_counts_project_frames_below_the_loop_only() -> None:
    summary = profile.summarize(COLLAPSED)
    # chat_completions sampled on two lines is one frame; main/<module> wrap everything.
    assert [(h.frame, h.samples) for h in summary.by_total] == [
        ("chat_completions (gateway/handlers/chat.py)", 45),
        ("Upstream.send (gateway/upstream.py)", 30),
        ("KeyCache.lookup (gateway/auth.py)", 15),
    ]
    assert summary.by_total[0].share == pytest.approx(0.45)
    assert "45.0%" in profile.render(summary, title="t")


def test_profile_skips_lines_it_cannot_read() -> None:
    assert profile.parse_collapsed("\n 20\nno-count-here\nf (a.py:1) 3\n") == [(("f (a.py)",), 3)]
