"""POST /v1/audio/speech: audio streamed to the client as the upstream produces it.

Nothing is buffered beyond the chunk in hand: the response is prepared when the first audio
bytes arrive (so an upstream that fails before them is retried on the next channel) and each
chunk is written as read. Audio has no in-band error: an upstream that breaks off after the
first byte makes the gateway close the connection without the final chunk, so the client
sees a truncated body. The Content-Type is the one `response_format` calls for; billing is
per character of `input`, as the upstream bills.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.audio import SPEECH_TYPES
from adapters.base_media import SpeechAdapter
from adapters.errors import UpstreamError, UpstreamProtocolError
from adapters.media import speech_adapter
from gateway import observe
from gateway.auth import authenticate
from gateway.billing import Measure
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import InvalidRequest
from gateway.handlers.body import json_body, required_str
from gateway.handlers.media import bella_headers
from gateway.keys import REQUEST_ID, UPSTREAM
from gateway.metering import CLIENT_CLOSED, Call

ENDPOINT = "/v1/audio/speech"
MAX_INPUT_CHARS = 4096


async def speech(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    body = await json_body(request)
    model = required_str(body, "model")
    text = required_str(body, "input")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidRequest(f"'input' is longer than {MAX_INPUT_CHARS} characters.", param="input")
    fmt = body.get("response_format") or "mp3"
    if fmt not in SPEECH_TYPES:
        formats = ", ".join(SPEECH_TYPES)
        raise InvalidRequest(
            f"'response_format' must be one of {formats}.", param="response_format"
        )
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="speech")
    call.units = Measure(characters=len(text))

    async def attempt(route: Route) -> web.StreamResponse:
        adapter = speech_adapter(route.channel.protocol)
        return await _relay(request, call, adapter, route, body, SPEECH_TYPES[fmt])

    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))


async def _relay(
    request: web.Request,
    call: Call,
    adapter: SpeechAdapter,
    route: Route,
    body: dict[str, Any],
    content_type: str,
) -> web.StreamResponse:
    outgoing = adapter.speech_request(route.channel, body, request.headers)
    upstream = await request.app[UPSTREAM].send(outgoing, route.stream_timeout)
    try:
        if upstream.status >= 300:
            raise adapter.speech_error(upstream.status, upstream.headers, await upstream.read())
        headers = {"Content-Type": content_type, **bella_headers(call)}
        out = web.StreamResponse(headers=headers)
        try:
            async for chunk in upstream.chunks():
                if not chunk:
                    continue
                if not out.prepared:
                    call.mark_first_byte()
                    await observe.prepare(request, out)
                await out.write(chunk)
            if not out.prepared:
                raise UpstreamProtocolError("The upstream answered without any audio.")
            await out.write_eof()
            call.status = 200
        except UpstreamError as exc:
            if not out.prepared:
                raise
            call.fail(502, exc.code)
            call.upstream_error = exc
            _abort(request)
        except ConnectionResetError:
            call.fail(CLIENT_CLOSED, "client_closed")
        return out
    finally:
        upstream.close()


def _abort(request: web.Request) -> None:
    """End a started body without its final chunk: the client knows it is incomplete."""
    if request.transport is not None:
        request.transport.close()
