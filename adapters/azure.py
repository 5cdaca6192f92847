"""Azure OpenAI chat: OpenAI's wire format at a deployment URL, keyed by `api-key`.

The channel's `url` is the resource endpoint (`https://NAME.openai.azure.com`) and its
`deploy_name` the deployment. `options.api_version` picks the API version (default below);
`v1` selects the version-less `/openai/v1/chat/completions` API, where the deployment goes in
the body's `model` instead. Bodies, streams and errors are OpenAI's, so everything after the
URL and the key is `OpenAIAdapter`'s (Azure's extra `prompt_filter_results` chunks, which
carry no choices, are relayed like any other).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from adapters.base import Channel, ChatResult, UpstreamRequest
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter, chat_body
from adapters.options import client_body, with_extra_headers

DEFAULT_API_VERSION = "2024-10-21"


def chat_url(channel: Channel) -> str:
    base = channel.url.rstrip("/")
    if base.endswith("/openai"):
        base = base[: -len("/openai")]
    version = str(channel.options.get("api_version") or DEFAULT_API_VERSION)
    if version == "v1":
        return f"{base}/openai/v1/chat/completions"
    deployment = quote(channel.deploy_name, safe="")
    return (
        f"{base}/openai/deployments/{deployment}/chat/completions"
        f"?api-version={quote(version, safe='')}"
    )


class AzureAdapter:
    """`ChatAdapter` for Azure OpenAI deployments."""

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        payload = chat_body(channel, client_body(channel, body))
        headers = {"Content-Type": "application/json"}
        api_key = channel.credentials.get("api_key")
        if api_key:
            headers["api-key"] = api_key
        return UpstreamRequest(
            method="POST",
            url=chat_url(channel),
            headers=with_extra_headers(channel, headers),
            body=orjson.dumps(payload),
            stream=payload.get("stream") is True,
        )

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._openai.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> OpenAIStreamMeter:
        return self._openai.chat_stream(body)
