"""The request log: one JSON line per request with what an SRE needs, and never a secret."""

from __future__ import annotations

import io
import logging
import os
import select
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.keys import REQUEST_LOG
from gateway.logs import FILE_WRITE_MAX, PIPE_WRITE_MAX, RequestLog, write_max
from gateway.timing import Outcome, Spans
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.gateway.observability.test_metrics import settled
from tests.harness import Gateway, chat_catalog, chat_channel, gateway_settings, running_gateway

CHAT = "/v1/chat/completions"
WRONG_KEY = "sk-wrong-client-secret-abcdefghijklmnopqrstuvwxyz"
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def secret_gateway(
    tmp_path: Path, request_log: Path, upstream: FakeOpenAI
) -> AsyncIterator[Gateway]:
    """A gateway whose channel carries the fake upstream's secret key."""
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY, code="ch-fake"))
    settings = gateway_settings(tmp_path, "", catalog, BELLA_LOGS_REQUESTS=str(request_log))
    async with running_gateway(settings) as gw:
        yield gw


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def post(
    gw: Gateway, key: str, body: dict[str, Any], **headers: str
) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            gw.url + CHAT, json=body, headers={"Authorization": f"Bearer {key}", **headers}
        ) as response,
    ):
        await response.read()
        return response


async def test_one_line_per_request_with_its_account(
    secret_gateway: Gateway, request_log: Path
) -> None:
    gw = secret_gateway
    ok = await post(gw, gw.key, BODY, **{"X-Bella-Trace-Id": "trace-42"})
    streamed = await post(gw, gw.key, {**BODY, "stream": True})
    await post(gw, WRONG_KEY, BODY)
    await settled(gw)
    gw.app[REQUEST_LOG].flush()  # lines are written together, within 50 ms
    first, second, third = lines(request_log)
    [record] = [r for r in await gw.usage() if r.request_id == first["request_id"]]
    assert first["request_id"] == ok.headers["X-Bella-Request-Id"]
    assert first["trace_id"] == "trace-42"
    assert first["key"] == record.apikey_code
    assert first["key"].startswith("ak-")
    assert (first["method"], first["endpoint"]) == ("POST", CHAT)
    assert (first["model"], first["channel"], first["status"]) == ("gpt-test", "ch-fake", 200)
    assert (first["prompt_tokens"], first["completion_tokens"]) == (7, 5)
    assert Decimal(first["cost"]) == record.cost
    assert first["error"] == ""
    for field in ("duration_ms", "queue_ms", "upstream_ms", "gateway_ms"):
        assert first[field] >= 0
    assert first["duration_ms"] >= first["upstream_ms"]
    assert first["time"].endswith("+00:00")
    assert second["request_id"] == streamed.headers["X-Bella-Request-Id"]
    assert (second["stream"], second["status"]) == ("sse", 200)
    assert second["ttft_ms"] is not None
    assert (third["status"], third["error"], third["key"]) == (401, "invalid_api_key", "")


async def test_no_secret_in_any_log_line(
    secret_gateway: Gateway,
    upstream: FakeOpenAI,
    request_log: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = secret_gateway
    await post(gw, gw.key, BODY)
    await post(gw, gw.key, {**BODY, "stream": True})
    await post(gw, WRONG_KEY, BODY)
    await post(gw, gw.key, BODY, **{"X-Bella-Trace-Id": WRONG_KEY + "x" * 200})
    upstream.fail_with = 500
    failed = await post(gw, gw.key, BODY)
    assert failed.status == 502
    upstream.fail_with = 401
    await post(gw, gw.key, {**BODY, "stream": True})
    await settled(gw)
    gw.app[REQUEST_LOG].flush()  # lines are written together, within 50 ms
    captured = capsys.readouterr()
    logged = lines(request_log)
    assert len(logged) == 6
    everything = orjson.dumps(logged).decode() + caplog.text + captured.out + captured.err
    for secret in (API_KEY, gw.key, WRONG_KEY, "Bearer"):
        assert secret not in everything


class BrokenSink(io.BytesIO):
    def write(self, data: object, /) -> int:
        raise OSError(28, "No space left on device")


async def test_a_failing_sink_does_not_fail_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RequestLog(BrokenSink())
    spans = Spans(total=0.1, queue=0.0, upstream=0.05, gateway=0.05)
    outcome = Outcome("/v1/models", "", "", 200, "", spans, 0, False, "")
    for _ in range(3):
        log.write(outcome, None, request_id="req-1", trace_id="", key="", method="GET")
        log.flush()
    assert caplog.text.count("cannot be written") == 1


class RecordingFile(io.FileIO):
    """A real file descriptor that remembers the size of each write."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd, "wb")
        self.writes: list[int] = []

    def write(self, data: Any, /) -> int:
        self.writes.append(len(data))
        return super().write(data)


def write_lines(log: RequestLog, count: int) -> None:
    spans = Spans(total=0.1, queue=0.0, upstream=0.05, gateway=0.05)
    outcome = Outcome("/v1/models", "", "", 200, "", spans, 0, False, "")
    for number in range(count):
        log.write(outcome, None, request_id=f"req-{number}", trace_id="", key="", method="GET")
    log.flush()


async def test_writes_to_a_pipe_stay_atomic_and_to_a_file_are_fewer(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        pipe = RecordingFile(write_end)
        write_lines(RequestLog(pipe), 100)
        received = os.read(read_end, 1 << 20)
    finally:
        os.close(read_end)
        pipe.close()
    assert max(pipe.writes) <= PIPE_WRITE_MAX < select.PIPE_BUF
    assert len(received.splitlines()) == 100
    assert received.endswith(b"\n")

    file = RecordingFile(os.open(tmp_path / "requests.log", os.O_WRONLY | os.O_CREAT))
    with file:
        assert write_max(file) == FILE_WRITE_MAX
        write_lines(RequestLog(file), 100)
    assert len(file.writes) == 1  # 100 lines of ~300 bytes: one write, not ten
    assert len((tmp_path / "requests.log").read_bytes().splitlines()) == 100
    assert write_max(io.BytesIO()) == PIPE_WRITE_MAX  # no file descriptor: the safe size
