"""OpenAI-compatible vendors: OpenAI's wire format under their own API path, plus a few
fields of their own. A vendor adapter names its default path and adds its fields; requests,
answers, streams and errors are OpenAI's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from adapters.base import Channel, ChatResult, UpstreamRequest
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter
from adapters.options import client_body


def with_default_path(channel: Channel, path: str) -> str:
    """The channel's URL; a bare host gets the vendor's API `path` appended."""
    url = channel.url.rstrip("/")
    return url if urlsplit(url).path else url + path


class CompatibleAdapter:
    """`ChatAdapter` for an OpenAI-compatible vendor; subclasses set `default_path` and may
    add their fields in `vendor_fields`."""

    default_path = ""

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def vendor_fields(self, options: Mapping[str, Any], payload: dict[str, Any]) -> None:
        """Add the vendor's own request fields from the channel options (none by default)."""

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        payload = client_body(channel, body)
        self.vendor_fields(channel.options, payload)
        vendor = replace(channel, url=with_default_path(channel, self.default_path))
        return self._openai.chat_request(vendor, payload, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._openai.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> OpenAIStreamMeter:
        return self._openai.chat_stream(body)
