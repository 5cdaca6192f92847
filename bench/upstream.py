"""A fake OpenAI upstream for the bench: `POST /v1/chat/completions`, canned and cheap.

Every response is built once at start-up; a request costs one body parse and the writes.
A stream goes out as pre-framed HTTP chunks written straight to the transport, grouped
`--events-per-write` SSE events to a write. The writes are the upstream's main cost (about
6 µs each), and it shares a core with wrk: one write per event (`1`, as a live upstream
paces them) made it, not the proxy under test, the limit of a 2-core bench. Under load a
proxy reads a fast stream in one or two chunks either way, so the grouping changes the
upstream's cost far more than the proxy's work.

    python -m bench.upstream --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

import orjson
import uvloop
from aiohttp import web

MODEL = "bench-upstream"
CREATED = 1_700_000_000
STREAM_CHUNKS = 20
USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 18,
    "total_tokens": 37,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}
_TEXT = "Hello! This is a canned answer from the bench upstream, the same for every request."
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def completion_body() -> bytes:
    """A non-stream `chat.completion` of about 500 bytes."""
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def stream_events(*, include_usage: bool) -> list[bytes]:
    """`STREAM_CHUNKS` chunk events, a usage event when asked for, then `[DONE]`."""
    words = _TEXT.split(" ")
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": (" " if i else "") + words[i % len(words)]} for i in range(18)]
    deltas.append({})
    assert len(deltas) == STREAM_CHUNKS
    extra = {"usage": None} if include_usage else {}
    events = [
        _chunk(
            [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None if d else "stop"}],
            extra,
        )
        for d in deltas
    ]
    if include_usage:
        events.append(_chunk([], {"usage": USAGE}))
    events.append(b"data: [DONE]\n\n")
    return events


def _chunk(choices: list[dict[str, Any]], extra: dict[str, Any]) -> bytes:
    chunk = {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": choices,
        **extra,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def http_chunk(data: bytes) -> bytes:
    """`data` framed as one chunk of HTTP/1.1 chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def writes(events: list[bytes], events_per_write: int) -> list[bytes]:
    """The events grouped `events_per_write` at a time, each group one HTTP chunk."""
    step = max(1, events_per_write)
    return [http_chunk(b"".join(events[i : i + step])) for i in range(0, len(events), step)]


class Canned:
    """The precomputed answers and the handlers that send them."""

    def __init__(self, *, events_per_write: int = 1) -> None:
        self.completion = completion_body()
        self.stream = writes(stream_events(include_usage=False), events_per_write)
        self.stream_with_usage = writes(stream_events(include_usage=True), events_per_write)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.json_response({"error": {"message": "bad JSON"}}, status=400)
        if not isinstance(body, dict) or body.get("stream") is not True:
            return web.Response(body=self.completion, content_type="application/json")
        options = body.get("stream_options")
        with_usage = isinstance(options, dict) and options.get("include_usage") is True
        response = web.StreamResponse(headers=SSE_HEADERS)
        response.enable_chunked_encoding()
        await response.prepare(request)  # a StreamResponse sends its headers here, at once
        transport = request.transport
        if transport is None or transport.is_closing():
            return response  # the client went away; nothing to send to
        for frame in self.stream_with_usage if with_usage else self.stream:
            transport.write(frame)
        # The last chunk, `0\r\n\r\n`. wrk hangs up mid-stream when a run ends: not an error.
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(*, events_per_write: int = 1) -> web.Application:
    """The fake upstream; `events_per_write=1` sends each SSE event in its own write."""
    app = web.Application()
    canned = Canned(events_per_write=events_per_write)
    app.router.add_post("/v1/chat/completions", canned.chat)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--events-per-write",
        type=int,
        default=1,
        help="SSE events sent per write (default 1: one write per event)",
    )
    args = parser.parse_args(argv)
    web.run_app(
        create_app(events_per_write=args.events_per_write),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
