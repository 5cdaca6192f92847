"""POST /v1/messages: the Anthropic Messages API, served through the chat path.

Anthropic channels get the client's body as it is (`AnthropicMessagesAdapter`); every other
channel gets it converted to chat (`messages_to_chat`), sent through the channel's own chat
adapter and answered back in Anthropic's shapes (`MessagesAdapter`). Routing, failover,
slots, limits and billing are the chat endpoint's (`dispatch`, `metered`, and its
send-and-relay functions), so usage and cost are identical to chat.

Anthropic clients send their key as `x-api-key` (with `anthropic-version`); a Bearer key is
accepted too. Errors are rendered in Anthropic's `{"type": "error", "error": {…}}` shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from adapters import chat_adapter_for
from adapters.anthropic import AnthropicMessagesAdapter
from adapters.base import ChatAdapter
from adapters.errors import UpstreamError
from adapters.messages import messages_to_chat
from adapters.messages_api import MessagesAdapter
from gateway.auth import authenticate, authenticate_secret
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import GatewayError
from gateway.handlers.body import json_body, optional_bool, required_list, required_str
from gateway.handlers.chat import complete_chat, stream_chat
from gateway.keys import REQUEST_ID
from gateway.metering import Call
from gateway.store.records import ApiKey

ENDPOINT = "/v1/messages"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        return await _messages(request)
    except GatewayError as exc:
        return anthropic_error(request, exc)


async def _messages(request: web.Request) -> web.StreamResponse:
    key = await _authenticate(request)
    body = await json_body(request)
    model = required_str(body, "model")
    required_list(body, "messages")
    stream = optional_bool(body, "stream")
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model)
    chat_body = messages_to_chat(body)

    async def attempt(route: Route) -> web.StreamResponse:
        adapter, sent = _adapter(route, body, chat_body)
        if stream:
            return await stream_chat(request, call, adapter, route, sent, stream_error)
        return await complete_chat(request, call, adapter, route, sent)

    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))


def _adapter(
    route: Route, body: dict[str, Any], chat_body: dict[str, Any]
) -> tuple[ChatAdapter, dict[str, Any]]:
    """The adapter for this channel and the body it takes: native, or converted to chat."""
    if route.channel.protocol == "anthropic":
        return AnthropicMessagesAdapter(), body
    return MessagesAdapter(chat_adapter_for(route.channel)), chat_body


async def _authenticate(request: web.Request) -> ApiKey:
    """The key from `x-api-key` (as Anthropic clients send it) or `Authorization: Bearer`."""
    secret = request.headers.get("x-api-key")
    if not secret or request.headers.get("Authorization"):
        return await authenticate(request)
    return await authenticate_secret(request, secret)


def stream_error(error: UpstreamError) -> bytes:
    """How Anthropic ends a stream that failed: an `error` event."""
    kind = ERROR_TYPES.get(error.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": error.message}}
    return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"


def anthropic_error(request: web.Request, error: GatewayError) -> web.Response:
    kind = ERROR_TYPES.get(error.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": error.message}}
    headers = {"X-Bella-Request-Id": request.get(REQUEST_ID, "")}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )
