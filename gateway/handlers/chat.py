"""POST /v1/chat/completions: route, send, relay (JSON or SSE bytes), meter.

Failover happens only before the first byte reaches the client: the client response is
prepared when the first forwardable bytes arrive, so an upstream that fails earlier is
retried on the next candidate. After that, failures end the stream with an error event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from adapters import chat_adapter_for
from adapters.base import ChatAdapter, Usage
from adapters.errors import UpstreamError, UpstreamProtocolError, UpstreamServerError
from gateway import observe
from gateway.auth import authenticate
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import sse_error
from gateway.handlers.body import json_body, optional_bool, required_list, required_str
from gateway.keys import REQUEST_ID, UPSTREAM
from gateway.metering import CLIENT_CLOSED, Call, StreamTally, estimate_prompt_tokens

ENDPOINT = "/v1/chat/completions"
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    body = await json_body(request)
    model_field = required_str(body, "model")
    required_list(body, "messages")
    stream = optional_bool(body, "stream")
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model_field)
    send = stream_chat if stream else complete_chat

    def attempt(route: Route) -> Awaitable[web.StreamResponse]:
        return send(request, call, chat_adapter_for(route.channel), route, body)

    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))


def _headers(call: Call) -> dict[str, str]:
    return {"X-Bella-Request-Id": call.request_id, "X-Bella-Channel": call.channel}


async def complete_chat(
    request: web.Request, call: Call, adapter: ChatAdapter, route: Route, body: dict[str, Any]
) -> web.StreamResponse:
    upstream_request = adapter.chat_request(route.channel, body, request.headers)
    response = await request.app[UPSTREAM].send(upstream_request, route.call_timeout)
    try:
        data = await response.read()
    finally:
        response.close()
    result = adapter.chat_result(response.status, response.headers, data)
    _account(call, body, result.usage, events=0)
    call.status = 200
    return web.Response(body=result.body, content_type="application/json", headers=_headers(call))


async def stream_chat(
    request: web.Request,
    call: Call,
    adapter: ChatAdapter,
    route: Route,
    body: dict[str, Any],
    error_event: Callable[[UpstreamError], bytes] = sse_error,
) -> web.StreamResponse:
    """Relay an SSE stream; a failure after the first byte ends it with `error_event`."""
    upstream_request = adapter.chat_request(route.channel, body, request.headers)
    upstream = await request.app[UPSTREAM].send(upstream_request, route.stream_timeout)
    try:
        if upstream.status >= 400:
            adapter.chat_result(upstream.status, upstream.headers, await upstream.read())
            raise UpstreamProtocolError(f"The upstream answered {upstream.status}.")
        meter = adapter.chat_stream(body)
        out = web.StreamResponse(headers={**SSE_HEADERS, **_headers(call)})
        tally = StreamTally()
        try:
            async for chunk in upstream.chunks():
                data = meter.feed(chunk)
                if not data:
                    continue
                if not out.prepared:
                    call.mark_first_byte()
                    await observe.prepare(request, out)
                await out.write(data)
                tally.add(data)
            if not out.prepared:
                raise UpstreamProtocolError("The upstream closed the stream without data.")
            tail = meter.close()
            if tail:
                await out.write(tail)
            if meter.error is not None:  # its error event went out: nothing to add
                _upstream_failed(call, UpstreamServerError(meter.error))
            elif not meter.done:
                raise UpstreamProtocolError("The upstream stream ended before [DONE].")
            else:
                call.status = 200
        except UpstreamError as exc:
            if not out.prepared:
                raise
            _upstream_failed(call, exc)
            await _write_quietly(out, error_event(exc))
        except ConnectionResetError:
            call.fail(CLIENT_CLOSED, "client_closed")
        finally:
            _account(call, body, meter.usage, events=tally.events)
        await _write_eof_quietly(out)
        return out
    finally:
        upstream.close()


def _upstream_failed(call: Call, error: UpstreamError) -> None:
    """The stream began, then the upstream failed: a 502 for the record, and for health."""
    call.fail(502, error.code)
    call.upstream_error = error


def _account(call: Call, body: dict[str, Any], usage: Usage | None, events: int) -> None:
    """Bill the upstream's usage; without it, estimate (about one token an SSE event)."""
    if usage is not None:
        call.usage = usage
        return
    call.estimated = True
    call.usage = Usage(
        prompt_tokens=estimate_prompt_tokens(body),
        completion_tokens=events,
    )


async def _write_quietly(out: web.StreamResponse, data: bytes) -> None:
    try:
        await out.write(data)
    except ConnectionResetError:
        return


async def _write_eof_quietly(out: web.StreamResponse) -> None:
    try:
        await out.write_eof()
    except ConnectionResetError:
        return
