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
from typing import Any

from adapters.base import Channel
from adapters.compatible import CompatibleAdapter, with_default_path

API_PATH = "/api/v3"
THINKING_TYPES = frozenset({"enabled", "disabled", "auto"})


def base_url(channel: Channel) -> str:
    return with_default_path(channel, API_PATH)


class VolcengineAdapter(CompatibleAdapter):
    """`ChatAdapter` for Volcengine Ark."""

    default_path = API_PATH

    def vendor_fields(self, options: Mapping[str, Any], payload: dict[str, Any]) -> None:
        thinking = options.get("thinking")
        if thinking in THINKING_TYPES and "thinking" not in payload:
            payload["thinking"] = {"type": thinking}
