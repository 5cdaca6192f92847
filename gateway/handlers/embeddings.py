"""POST /v1/embeddings: checked, routed, sent, relayed as received, billed by input tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.base import Usage
from adapters.media import embedding_adapter
from gateway.auth import authenticate
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import InvalidRequest
from gateway.handlers.body import json_body, required_str
from gateway.handlers.media import exchange, json_response
from gateway.keys import REQUEST_ID
from gateway.metering import CHARS_PER_TOKEN, Call

ENDPOINT = "/v1/embeddings"
ENCODINGS = ("float", "base64")


async def embeddings(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    body = await json_body(request)
    model = required_str(body, "model")
    check_body(body)
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="embedding")

    async def attempt(route: Route) -> web.StreamResponse:
        adapter = embedding_adapter(route.channel.protocol)
        outgoing = adapter.embedding_request(route.channel, body, request.headers)
        result = adapter.embedding_result(*await exchange(request, outgoing, route.call_timeout))
        call.usage = result.usage or _estimate(call, body)
        return json_response(call, result.body)

    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))


def check_body(body: dict[str, Any]) -> None:
    value = body.get("input")
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if not _valid_input(value):
        raise InvalidRequest(
            "'input' must be a non-empty string, or a non-empty array of strings or tokens.",
            param="input",
        )
    if body.get("encoding_format", "float") not in ENCODINGS:
        raise InvalidRequest(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequest("'dimensions' must be a positive integer.", param="dimensions")


def _valid_input(value: object) -> bool:
    if isinstance(value, str):
        return bool(value)
    if not isinstance(value, list) or not value:
        return False
    return all(
        (isinstance(v, str) and v) or isinstance(v, int) or (isinstance(v, list) and v)
        for v in value
    )


def _estimate(call: Call, body: dict[str, Any]) -> Usage:
    call.estimated = True
    value = body["input"]
    texts = [value] if isinstance(value, str) else value
    chars = sum(len(t) if isinstance(t, str) else CHARS_PER_TOKEN for t in texts)
    return Usage(prompt_tokens=max(1, chars // CHARS_PER_TOKEN))
