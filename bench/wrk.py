"""wrk, without I/O: the command line, the Lua request script, and parsing of its report.

wrk prints a human report; with `--latency` it adds the latency distribution. The lines we
read (wrk 4.x, `src/wrk.c`):

    Latency Distribution
       50%  512.00us
       99%    2.31ms
    81234 requests in 10.00s, 45.20MB read
    Socket errors: connect 0, read 3, write 0, timeout 12   (only when one is non-zero)
    Non-2xx or 3xx responses: 7                              (only when non-zero)
    Requests/sec:   8123.40

wrk counts a response as an error when its status is above 399, so "Non-2xx or 3xx" means
4xx/5xx. Times are printed with the units us, ms, s, m, h.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"
_PERCENTILE = re.compile(r"^\s*([0-9.]+)%\s+" + _TIME + r"\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in " + _TIME + r",", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


class WrkOutputError(ValueError):
    """wrk's output lacks a line the report needs (wrk failed, or printed another format)."""


@dataclass(frozen=True, slots=True)
class SocketErrors:
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0

    @property
    def total(self) -> int:
        return self.connect + self.read + self.write + self.timeout


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and everything that went wrong."""

    requests: int
    duration_s: float
    rps: float
    percentiles_ms: Mapping[float, float]
    non_2xx: int
    socket_errors: SocketErrors

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms[50.0]

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms[99.0]

    @property
    def failed(self) -> bool:
        """Any error response or socket error, or no response at all."""
        return self.requests == 0 or self.non_2xx > 0 or self.socket_errors.total > 0

    def describe_errors(self) -> str:
        """`0`, or what went wrong, e.g. `12 non-2xx, 3 timeout`, or `no responses`."""
        if self.requests == 0 and not self.socket_errors.total:
            return "no responses"
        parts = [f"{self.non_2xx} non-2xx"] if self.non_2xx else []
        for kind in ("connect", "read", "write", "timeout"):
            count: int = getattr(self.socket_errors, kind)
            if count:
                parts.append(f"{count} {kind}")
        return ", ".join(parts) or "0"


def parse_time_ms(text: str) -> float:
    """A wrk time such as `512.00us`, `2.31ms` or `1.00m`, in milliseconds."""
    match = re.fullmatch(_TIME, text.strip())
    if match is None:
        raise WrkOutputError(f"not a wrk time: {text!r}")
    return float(match[1]) * _TIME_UNITS_MS[match[2]]


def parse_output(text: str) -> WrkResult:
    """Read a `wrk --latency` report; raise WrkOutputError when a needed line is missing."""
    total = _TOTAL.search(text)
    rps = _RPS.search(text)
    percentiles = {float(m[1]): _to_ms(m[2], m[3]) for m in _PERCENTILE.finditer(text)}
    if total is None or rps is None:
        raise WrkOutputError("no 'requests in' / 'Requests/sec' lines in wrk output")
    if 50.0 not in percentiles or 99.0 not in percentiles:
        raise WrkOutputError("no latency distribution in wrk output (was --latency given?)")
    non_2xx = _NON_2XX.search(text)
    socket = _SOCKET.search(text)
    return WrkResult(
        requests=int(total[1]),
        duration_s=_to_ms(total[2], total[3]) / 1000.0,
        rps=float(rps[1]),
        percentiles_ms=percentiles,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=SocketErrors(*(int(n) for n in socket.groups()))
        if socket
        else SocketErrors(),
    )


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def lua_script(body: bytes, headers: Mapping[str, str]) -> str:
    """A wrk script that sends every request as POST with `body` and `headers`.

    It only sets `wrk.method/body/headers`: a script that defines `request` or `response`
    makes wrk run Lua per request and slows the load generator itself.
    """
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def lua_string(value: str | bytes) -> str:
    """A double-quoted Lua string literal holding exactly `value` (bytes as UTF-8 for str)."""
    raw = value.encode() if isinstance(value, str) else value
    out = []
    for byte in raw:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def command(
    url: str,
    script: str,
    *,
    duration_s: int,
    connections: int = 64,
    threads: int = 2,
    prefix: Sequence[str] = (),
) -> list[str]:
    """The wrk argv for one run; `prefix` is e.g. `("taskset", "-c", "1")`."""
    return [
        *prefix,
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "-s",
        script,
        url,
    ]
