"""Upstream protocol adapters: sans-I/O request building and response reading.

`chat_adapter(protocol)` returns the shared adapter for a channel's `protocol`; adapters hold
no per-request state, so one instance serves every request.

`chat_adapter_for(channel)` is what a request should use: the protocol's adapter wrapped
for the channel's options (`reasoning: split|merge`, `function_call_simulate`). It builds a
new wrapper per call: the function-call emulation remembers, between `chat_request` and
`chat_result`, which tools the request offered.
"""

from __future__ import annotations

from functools import cache

from adapters.anthropic import AnthropicAdapter
from adapters.azure import AzureAdapter
from adapters.base import Channel, ChatAdapter
from adapters.bedrock import BedrockAdapter
from adapters.dashscope import DashScopeAdapter
from adapters.fc_simulate import FunctionCallAdapter
from adapters.gemini import GeminiAdapter
from adapters.mock import MockAdapter
from adapters.openai import OpenAIAdapter
from adapters.options import ChannelOptions, DefaultsAdapter
from adapters.reasoning import ReasoningAdapter
from adapters.volcengine import VolcengineAdapter


def chat_adapter(protocol: str) -> ChatAdapter:
    """The chat adapter for `protocol`; KeyError names the known ones when there is none."""
    adapters = _chat_adapters()
    try:
        return adapters[protocol]
    except KeyError:
        known = ", ".join(sorted(adapters))
        raise KeyError(f"No chat adapter for protocol {protocol!r} (known: {known}).") from None


def chat_adapter_for(channel: Channel) -> ChatAdapter:
    """The adapter for one request to `channel`: its protocol's, wrapped for its options.

    The reasoning rewrite sits inside the function-call emulation, so a `<think>` block is
    split off before the reply is scanned for tool calls.
    """
    adapter = chat_adapter(channel.protocol)
    options = ChannelOptions.of(channel)
    if options.max_tokens is not None and channel.protocol in ("openai", "mock"):
        adapter = DefaultsAdapter(adapter)
    if options.reasoning is not None:
        adapter = ReasoningAdapter(adapter, options.reasoning)
    if options.function_call_simulate:
        adapter = FunctionCallAdapter(adapter)
    return adapter


def chat_protocols() -> frozenset[str]:
    """Every protocol with a chat adapter (what a catalog's channels may name)."""
    return frozenset(_chat_adapters())


@cache
def _chat_adapters() -> dict[str, ChatAdapter]:
    # Built on first use, then shared: a cached function rather than a module global.
    return {
        "openai": OpenAIAdapter(),
        "mock": MockAdapter(),
        "azure": AzureAdapter(),
        "anthropic": AnthropicAdapter(),
        "gemini": GeminiAdapter(),
        "dashscope": DashScopeAdapter(),
        "volcengine": VolcengineAdapter(),
        "bedrock": BedrockAdapter(),
    }
