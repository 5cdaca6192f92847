"""Azure OpenAI embeddings, speech, transcription and images: OpenAI's media adapters with
Azure's URL and key.

Bodies, multipart forms, answers and error bodies (`{"error": {"code", "message"}}`) are
OpenAI's, so each adapter builds the OpenAI request and moves it to the deployment URL
(`/openai/deployments/{deploy_name}/{path}?api-version=…`, or the version-less `/openai/v1/`
API for `options.api_version: v1`, as `adapters.azure` does for chat) with the `api-key`
header instead of a Bearer token. Answers are read, and errors mapped, by the OpenAI adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from adapters.azure import DEFAULT_API_VERSION
from adapters.base import Channel, UpstreamRequest
from adapters.base_media import AudioForm, ImageForm, JsonResult, Transcript, UpstreamForm
from adapters.errors import UpstreamError
from adapters.openai_audio import OpenAIAudioAdapter
from adapters.openai_embeddings import OpenAIEmbeddingAdapter
from adapters.openai_images import OpenAIImageAdapter
from adapters.options import with_extra_headers


def deployment_url(channel: Channel, path: str) -> str:
    """The Azure URL of `path` (e.g. `audio/speech`) for the channel's deployment."""
    base = channel.url.rstrip("/")
    if base.endswith("/openai"):
        base = base[: -len("/openai")]
    version = str(channel.options.get("api_version") or DEFAULT_API_VERSION)
    if version == "v1":
        return f"{base}/openai/v1/{path}"
    deployment = quote(channel.deploy_name, safe="")
    return f"{base}/openai/deployments/{deployment}/{path}?api-version={quote(version, safe='')}"


def azure_headers(channel: Channel, *, json: bool) -> dict[str, str]:
    """`api-key` auth plus the channel's extra headers; a form's writer sets its Content-Type."""
    headers = {"Content-Type": "application/json"} if json else {}
    api_key = channel.credentials.get("api_key")
    if api_key:
        headers["api-key"] = api_key
    return with_extra_headers(channel, headers)


def _moved(channel: Channel, request: UpstreamRequest, path: str) -> UpstreamRequest:
    return replace(
        request, url=deployment_url(channel, path), headers=azure_headers(channel, json=True)
    )


def _moved_form(channel: Channel, form: UpstreamForm, path: str) -> UpstreamForm:
    return replace(
        form, url=deployment_url(channel, path), headers=azure_headers(channel, json=False)
    )


class AzureEmbeddingAdapter:
    """`EmbeddingAdapter` for Azure OpenAI embedding deployments."""

    def __init__(self) -> None:
        self._openai = OpenAIEmbeddingAdapter()

    def embedding_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        request = self._openai.embedding_request(channel, body, client_headers)
        return _moved(channel, request, "embeddings")

    def embedding_result(self, status: int, headers: Mapping[str, str], data: bytes) -> JsonResult:
        return self._openai.embedding_result(status, headers, data)


class AzureAudioAdapter:
    """`SpeechAdapter` and `TranscriptionAdapter` for Azure OpenAI TTS and Whisper deployments."""

    def __init__(self) -> None:
        self._openai = OpenAIAudioAdapter()

    def speech_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        request = self._openai.speech_request(channel, body, client_headers)
        return _moved(channel, request, "audio/speech")

    def speech_error(self, status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
        return self._openai.speech_error(status, headers, data)

    def transcription_request(
        self, channel: Channel, form: AudioForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        upstream = self._openai.transcription_request(channel, form, client_headers)
        return _moved_form(channel, upstream, "audio/transcriptions")

    def transcription_result(
        self, status: int, headers: Mapping[str, str], data: bytes, response_format: str
    ) -> Transcript:
        return self._openai.transcription_result(status, headers, data, response_format)


class AzureImageAdapter:
    """`ImageAdapter` for Azure OpenAI image deployments (DALL-E 3, gpt-image-1)."""

    def __init__(self) -> None:
        self._openai = OpenAIImageAdapter()

    def image_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        request = self._openai.image_request(channel, body, client_headers)
        return _moved(channel, request, "images/generations")

    def image_edit_request(
        self, channel: Channel, form: ImageForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        upstream = self._openai.image_edit_request(channel, form, client_headers)
        return _moved_form(channel, upstream, "images/edits")

    def image_result(
        self, status: int, headers: Mapping[str, str], data: bytes
    ) -> list[dict[str, Any]]:
        return self._openai.image_result(status, headers, data)
