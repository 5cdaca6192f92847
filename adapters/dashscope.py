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
from typing import Any

from adapters.base import Channel
from adapters.compatible import CompatibleAdapter, with_default_path

COMPATIBLE_PATH = "/compatible-mode/v1"


def base_url(channel: Channel) -> str:
    return with_default_path(channel, COMPATIBLE_PATH)


class DashScopeAdapter(CompatibleAdapter):
    """`ChatAdapter` for DashScope's compatible mode."""

    default_path = COMPATIBLE_PATH

    def vendor_fields(self, options: Mapping[str, Any], payload: dict[str, Any]) -> None:
        thinking = options.get("enable_thinking")
        if isinstance(thinking, bool) and "enable_thinking" not in payload:
            payload["enable_thinking"] = thinking
