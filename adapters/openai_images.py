"""OpenAI-compatible `/images/generations` (JSON) and `/images/edits` (multipart).

The gateway asks the upstream for `b64_json` whatever the client wants: a client that wants
a `url` gets one of the gateway's own signed URLs (the upstream's would expire on the
upstream's terms, or not be reachable). A channel whose upstream refuses the field
(gpt-image-1 always answers b64 and rejects it) sets `options.image_response_format: omit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Channel, UpstreamRequest
from adapters.base_media import FilePart, ImageForm, UpstreamForm
from adapters.errors import UpstreamProtocolError
from adapters.openai_audio import form_headers, with_model
from adapters.openai_embeddings import json_answer, json_request

B64 = "b64_json"


def _omit_format(channel: Channel) -> bool:
    return channel.options.get("image_response_format") == "omit"


class OpenAIImageAdapter:
    """`ImageAdapter` for OpenAI-compatible upstreams."""

    def image_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        payload = {k: v for k, v in body.items() if k != "response_format"}
        if not _omit_format(channel):
            payload["response_format"] = B64
        return json_request(channel, "/images/generations", payload)

    def image_edit_request(
        self, channel: Channel, form: ImageForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        fields = tuple((k, v) for k, v in form.fields if k != "response_format")
        if not _omit_format(channel):
            fields = (*fields, ("response_format", B64))
        files = form.images if form.mask is None else (*form.images, FilePart("mask", form.mask))
        return UpstreamForm(
            url=channel.url.rstrip("/") + "/images/edits",
            headers=form_headers(channel),
            fields=with_model(channel, fields),
            files=files,
        )

    def image_result(
        self, status: int, headers: Mapping[str, str], data: bytes
    ) -> list[dict[str, Any]]:
        items = json_answer(status, headers, data).get("data")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise UpstreamProtocolError("The upstream's images answer has no 'data' list.")
        return items
