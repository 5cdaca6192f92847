"""OpenAI-compatible `/embeddings`: the client's body passes through with the deploy name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from adapters.base import Channel, UpstreamRequest
from adapters.base_media import JsonResult
from adapters.errors import UpstreamProtocolError
from adapters.openai import chat_headers, error_from_response, parse_usage


def json_request(channel: Channel, path: str, body: dict[str, Any]) -> UpstreamRequest:
    """A JSON POST to `path` under the channel's URL; `model` becomes the deploy name."""
    payload = dict(body)
    if channel.deploy_name:
        payload["model"] = channel.deploy_name
    for name in channel.options.get("drop_fields", ()):
        payload.pop(name, None)
    return UpstreamRequest(
        method="POST",
        url=channel.url.rstrip("/") + path,
        headers=chat_headers(channel),
        body=orjson.dumps(payload),
    )


def json_answer(status: int, headers: Mapping[str, str], data: bytes) -> dict[str, Any]:
    """A 2xx JSON object answer, or the mapped `UpstreamError`."""
    if not 200 <= status < 300:
        raise error_from_response(status, headers, data)
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError("The upstream answered with a body that is not JSON.") from exc
    if not isinstance(answer, dict):
        raise UpstreamProtocolError("The upstream answered with JSON that is not an object.")
    return answer


class OpenAIEmbeddingAdapter:
    """`EmbeddingAdapter` for any OpenAI-compatible upstream."""

    def embedding_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return json_request(channel, "/embeddings", body)

    def embedding_result(self, status: int, headers: Mapping[str, str], data: bytes) -> JsonResult:
        answer = json_answer(status, headers, data)
        if not isinstance(answer.get("data"), list):
            raise UpstreamProtocolError("The upstream's embeddings answer has no 'data' list.")
        return JsonResult(body=data, usage=parse_usage(answer.get("usage")))
