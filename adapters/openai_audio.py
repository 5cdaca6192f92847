"""OpenAI-compatible audio: `/audio/speech` (bytes streamed back) and Whisper-style
`/audio/transcriptions` (multipart up, any of the five response formats back).

A transcription's length comes from the answer when it says: `duration` in verbose_json, or
`usage: {type: "duration", seconds}` as OpenAI adds to json answers. Else the gateway
measures the file (`adapters.audio.probe_duration`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from adapters.base import Channel, UpstreamRequest
from adapters.base_media import AudioForm, FilePart, Transcript, UpstreamForm
from adapters.errors import UpstreamError
from adapters.openai import chat_headers, error_from_response
from adapters.openai_embeddings import json_request
from adapters.transcript import CONTENT_TYPES


def form_headers(channel: Channel) -> dict[str, str]:
    """The channel's headers for a multipart body (whose writer sets the Content-Type)."""
    headers = chat_headers(channel)
    headers.pop("Content-Type", None)
    return headers


def with_model(
    channel: Channel, fields: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    if not channel.deploy_name:
        return fields
    return (("model", channel.deploy_name), *((k, v) for k, v in fields if k != "model"))


class OpenAIAudioAdapter:
    """`SpeechAdapter` and `TranscriptionAdapter` for OpenAI-compatible upstreams."""

    def speech_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return json_request(channel, "/audio/speech", body)

    def speech_error(self, status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
        return error_from_response(status, headers, data)

    def transcription_request(
        self, channel: Channel, form: AudioForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        return UpstreamForm(
            url=channel.url.rstrip("/") + "/audio/transcriptions",
            headers=form_headers(channel),
            fields=with_model(channel, form.fields),
            files=(FilePart("file", form.audio),),
        )

    def transcription_result(
        self, status: int, headers: Mapping[str, str], data: bytes, response_format: str
    ) -> Transcript:
        if not 200 <= status < 300:
            raise error_from_response(status, headers, data)
        content_type = CONTENT_TYPES.get(response_format, "application/json")
        duration = reported_duration(data) if content_type == "application/json" else None
        return Transcript(body=data, content_type=content_type, duration_s=duration)


def reported_duration(data: bytes) -> float | None:
    """Seconds of audio an answer reports: verbose_json's `duration` or a duration usage."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict):
        return None
    usage = answer.get("usage")
    value = answer.get("duration")
    if value is None and isinstance(usage, dict) and usage.get("type") == "duration":
        value = usage.get("seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)
