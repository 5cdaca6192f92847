"""Alibaba DashScope (Qwen) through its OpenAI-compatible mode.

What differs from OpenAI, and what this adapter does about it:
- the path: a channel `url` of the bare host (`https://dashscope.aliyuncs.com`, or the
  international `dashscope-intl` host) gets `/compatible-mode/v1` appended;
- the key is a bearer token, as OpenAI's;
- thinking models (Qwen3, QwQ) stream `reasoning_content` deltas: relayed as they are, and
  `options.enable_thinking` (bool) is sent as the request's `enable_thinking` when the client
  did not set it (commercial Qwen3 models refuse non-stream calls with thinking on);
- usage (with `prompt_tokens_details.cached_tokens` for cached prompts) comes in the usual
  `include_usage` chunk; errors come as `{"error": {…}}` or as the native
  `{"code", "message", "request_id"}`, which `error_message` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from adapters.base import Channel, ChatResult, UpstreamRequest
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter
from adapters.options import client_body

COMPATIBLE_PATH = "/compatible-mode/v1"


def base_url(channel: Channel) -> str:
    url = channel.url.rstrip("/")
    return url if urlsplit(url).path else url + COMPATIBLE_PATH


class DashScopeAdapter:
    """`ChatAdapter` for DashScope's compatible mode."""

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        payload = client_body(channel, body)
        thinking = channel.options.get("enable_thinking")
        if isinstance(thinking, bool) and "enable_thinking" not in payload:
            payload["enable_thinking"] = thinking
        compatible = replace(channel, url=base_url(channel))
        return self._openai.chat_request(compatible, payload, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._openai.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> OpenAIStreamMeter:
        return self._openai.chat_stream(body)
