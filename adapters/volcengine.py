"""Volcengine Ark (Doubao, DeepSeek on Ark) through its OpenAI-compatible API.

What differs from OpenAI, and what this adapter does about it:
- the path: a channel `url` of the bare host (`https://ark.cn-beijing.volces.com`) gets
  `/api/v3` appended; the model is an endpoint id (`ep-…`) or a model name: `deploy_name`;
- the key is a bearer token, as OpenAI's;
- reasoning models stream `reasoning_content` deltas: relayed as they are, and
  `options.thinking` (`enabled`, `disabled` or `auto`) is sent as the request's
  `thinking: {"type": …}` when the client did not set one;
- usage reports `completion_tokens_details.reasoning_tokens` inside `completion_tokens`
  (billed as completion, as OpenAI's reasoning tokens are) and cached prompt tokens in
  `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from adapters.base import Channel, ChatResult, UpstreamRequest
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter
from adapters.options import client_body

API_PATH = "/api/v3"
THINKING_TYPES = frozenset({"enabled", "disabled", "auto"})


def base_url(channel: Channel) -> str:
    url = channel.url.rstrip("/")
    return url if urlsplit(url).path else url + API_PATH


class VolcengineAdapter:
    """`ChatAdapter` for Volcengine Ark."""

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        payload = client_body(channel, body)
        thinking = channel.options.get("thinking")
        if thinking in THINKING_TYPES and "thinking" not in payload:
            payload["thinking"] = {"type": thinking}
        ark = replace(channel, url=base_url(channel))
        return self._openai.chat_request(ark, payload, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._openai.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> OpenAIStreamMeter:
        return self._openai.chat_stream(body)
