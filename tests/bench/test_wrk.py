"""bench.wrk: parsing real `wrk --latency` reports, and the Lua script and argv it builds.

The reports below were captured from wrk 4.1.0 (Debian) on this project's bench upstream.
"""

from __future__ import annotations

import pytest

from bench import wrk

# A 20-chunk SSE stream scenario against `bench.upstream`, nothing wrong.
OK = """\
Running 3s test @ http://127.0.0.1:18103/v1/chat/completions
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.34ms    5.58ms 127.02ms   94.61%
    Req/Sec     2.91k   373.20     4.18k    81.67%
  Latency Distribution
     50%   10.37ms
     75%   11.45ms
     90%   13.98ms
     99%   30.66ms
  17406 requests in 3.00s, 100.45MB read
Requests/sec:   5795.39
Transfer/sec:     33.45MB
"""

# Every request got a 400: the body was not JSON.
NON_2XX = """\
Running 3s test @ http://127.0.0.1:18103/v1/chat/completions
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.80ms    5.74ms 103.78ms   95.50%
    Req/Sec    10.86k     2.36k   14.16k    73.33%
  Latency Distribution
     50%    2.51ms
     75%    3.18ms
     90%    5.09ms
     99%   35.40ms
  64874 requests in 3.01s, 12.50MB read
  Non-2xx or 3xx responses: 64874
Requests/sec:  21537.33
Transfer/sec:      4.15MB
"""

# The upstream was killed 1.5 s into the run (no trailing newline: wrk ends it so).
KILLED = """\
Running 3s test @ http://127.0.0.1:18105/v1/chat/completions
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.07ms    1.01ms  15.98ms   91.03%
    Req/Sec    15.48k     2.08k   18.56k    56.67%
  Latency Distribution
     50%    1.83ms
     75%    2.04ms
     90%    2.71ms
     99%    6.31ms
  46205 requests in 3.04s, 30.80MB read
  Socket errors: connect 0, read 66, write 94305, timeout 0
Requests/sec:  15181.63
Transfer/sec:     10.12MB"""

# A server that accepts connections and never answers (wrk --timeout 1s).
SILENT = """\
Running 3s test @ http://127.0.0.1:18104/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 3.01s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""


def test_parses_a_clean_run() -> None:
    result = wrk.parse_output(OK)
    assert result.requests == 17406
    assert result.duration_s == pytest.approx(3.0)
    assert result.rps == pytest.approx(5795.39)
    assert result.p50_ms == pytest.approx(10.37)
    assert result.p99_ms == pytest.approx(30.66)
    assert result.percentiles_ms == pytest.approx(
        {50.0: 10.37, 75.0: 11.45, 90.0: 13.98, 99.0: 30.66}
    )
    assert result.non_2xx == 0
    assert result.socket_errors == wrk.SocketErrors()
    assert not result.failed
    assert result.describe_errors() == "0"


def test_the_thread_stats_latency_line_is_not_a_percentile() -> None:
    # "Latency 11.34ms …" and "+/- Stdev 94.61%" must not be read as the distribution.
    assert set(wrk.parse_output(OK).percentiles_ms) == {50.0, 75.0, 90.0, 99.0}


def test_non_2xx_responses_fail_the_run() -> None:
    result = wrk.parse_output(NON_2XX)
    assert result.non_2xx == 64874
    assert result.rps == pytest.approx(21537.33)
    assert result.failed
    assert result.describe_errors() == "64874 non-2xx"


def test_socket_errors_fail_the_run() -> None:
    result = wrk.parse_output(KILLED)
    assert result.socket_errors == wrk.SocketErrors(connect=0, read=66, write=94305, timeout=0)
    assert result.socket_errors.total == 94371
    assert result.non_2xx == 0
    assert result.p99_ms == pytest.approx(6.31)
    assert result.failed
    assert result.describe_errors() == "66 read, 94305 write"


def test_a_run_without_a_single_response_fails() -> None:
    result = wrk.parse_output(SILENT)
    assert result.requests == 0
    assert result.rps == 0.0
    assert result.p50_ms == 0.0
    assert result.failed
    assert result.describe_errors() == "no responses"


def test_output_without_latency_distribution_is_rejected() -> None:
    without = "\n".join(line for line in OK.splitlines() if "%" not in line)
    with pytest.raises(wrk.WrkOutputError, match="--latency"):
        wrk.parse_output(without)


@pytest.mark.parametrize(
    "text",
    ["", "unable to connect to 127.0.0.1:1 Connection refused\n", OK.replace("Requests/sec", "")],
)
def test_output_without_totals_is_rejected(text: str) -> None:
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse_output(text)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("512.00us", 0.512),
        ("10.37ms", 10.37),
        ("1.02s", 1020.0),
        ("  2.00m ", 120_000.0),
        ("1.00h", 3_600_000.0),
        ("0.00us", 0.0),
    ],
)
def test_time_units(text: str, ms: float) -> None:
    assert wrk.parse_time_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "12", "1.0ns", "ms"])
def test_bad_times_are_rejected(text: str) -> None:
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse_time_ms(text)


def test_percentiles_in_seconds_are_converted() -> None:
    slow = OK.replace("     99%   30.66ms", "     99%    1.25s")
    assert wrk.parse_output(slow).p99_ms == pytest.approx(1250.0)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('{"a": "b"}', '"{\\"a\\": \\"b\\"}"'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\r", '"line\\010break\\013"'),
        ("é", '"\\195\\169"'),
        (b"\x00\xff", '"\\000\\255"'),
        ("]]", '"]]"'),
    ],
)
def test_lua_string_escapes(value: str | bytes, literal: str) -> None:
    assert wrk.lua_string(value) == literal


def test_lua_script_sets_method_body_and_headers_only() -> None:
    script = wrk.lua_script(b'{"stream":true}', {"Authorization": "Bearer sk-x"})
    assert script == (
        'wrk.method = "POST"\n'
        'wrk.body = "{\\"stream\\":true}"\n'
        'wrk.headers["Authorization"] = "Bearer sk-x"\n'
    )
    assert "function" not in script


def test_command_line() -> None:
    argv = wrk.command(
        "http://127.0.0.1:1/v1/chat/completions",
        "/tmp/s.lua",
        duration_s=10,
        prefix=("taskset", "-c", "1"),
    )
    assert argv == [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t2",
        "-c64",
        "-d10s",
        "--latency",
        "-s",
        "/tmp/s.lua",
        "http://127.0.0.1:1/v1/chat/completions",
    ]
