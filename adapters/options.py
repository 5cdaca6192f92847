"""Channel options every adapter honours, read from `Channel.options` in one place.

- `headers`: extra upstream headers (added last, so they can override an adapter's own).
- `drop_fields`: top-level fields removed from the client body before conversion and from the
  upstream body after it (so `temperature` or a vendor-only field can be dropped alike).
- `max_tokens`: the completion limit used when the client gave none.
- `reasoning`: `merge` folds `reasoning_content` into `content` as `<think>…</think>`;
  `split` moves `<think>` blocks out of `content` into `reasoning_content`.
- `function_call_simulate`: tools are emulated in the prompt (see `fc_simulate`).

The upstream model name is `Channel.deploy_name` and the timeout `Channel.timeout_s`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from adapters.base import Channel, ChatAdapter, ChatResult, StreamMeter, UpstreamRequest

ReasoningMode = Literal["split", "merge"]
TOKEN_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens")


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    headers: Mapping[str, str]
    drop_fields: tuple[str, ...]
    max_tokens: int | None
    reasoning: ReasoningMode | None
    function_call_simulate: bool

    @classmethod
    def of(cls, channel: Channel) -> ChannelOptions:
        options = channel.options
        if not options:  # most channels: no options, nothing to read
            return _NO_OPTIONS
        headers = options.get("headers")
        drop = options.get("drop_fields")
        reasoning = options.get("reasoning")
        return cls(
            headers=(
                {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
            ),
            drop_fields=tuple(str(name) for name in drop) if isinstance(drop, list | tuple) else (),
            max_tokens=_positive_int(options.get("max_tokens")),
            reasoning=reasoning if reasoning in ("split", "merge") else None,
            function_call_simulate=options.get("function_call_simulate") is True,
        )


_NO_OPTIONS = ChannelOptions(
    headers=MappingProxyType({}),
    drop_fields=(),
    max_tokens=None,
    reasoning=None,
    function_call_simulate=False,
)


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def client_body(channel: Channel, body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the client's chat body with the channel's dropped fields and defaults applied."""
    options = ChannelOptions.of(channel)
    payload = {name: value for name, value in body.items() if name not in options.drop_fields}
    if options.max_tokens is not None and token_limit(payload) is None:
        payload["max_tokens"] = options.max_tokens
    return payload


def token_limit(body: Mapping[str, Any]) -> int | None:
    """The client's completion limit: `max_completion_tokens`, else `max_tokens`."""
    for name in TOKEN_LIMIT_FIELDS:
        value = _positive_int(body.get(name))
        if value is not None:
            return value
    return None


def upstream_body(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    """The vendor body with the channel's dropped fields removed (in place, returned)."""
    for name in ChannelOptions.of(channel).drop_fields:
        payload.pop(name, None)
    return payload


def with_extra_headers(channel: Channel, headers: dict[str, str]) -> dict[str, str]:
    """`headers` updated with the channel's extra headers (in place, returned)."""
    headers.update(ChannelOptions.of(channel).headers)
    return headers


def upstream_model(channel: Channel, body: Mapping[str, Any]) -> str:
    """The model id to ask the upstream for: the deploy name, else the client's model."""
    if channel.deploy_name:
        return channel.deploy_name
    model = body.get("model")
    return model if isinstance(model, str) else ""


class DefaultsAdapter:
    """ChatAdapter wrapper applying `client_body` for adapters that do not (openai, mock).

    Applying it twice is harmless: it only drops fields and fills a missing limit.
    """

    def __init__(self, inner: ChatAdapter) -> None:
        self._inner = inner

    def chat_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return self._inner.chat_request(channel, client_body(channel, body), client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._inner.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> StreamMeter:
        return self._inner.chat_stream(body)
