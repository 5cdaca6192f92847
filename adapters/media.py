"""Which adapter serves each media endpoint kind for a channel's protocol, and the mock's
in-process dispatch by URL (`mock:embeddings`, `mock:speech`, …).

Adapters hold no per-request state (a transcription session is made per session by
`asr_session`), so one instance serves every request, as for chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import TypeVar

from adapters.azure_media import AzureAudioAdapter, AzureEmbeddingAdapter, AzureImageAdapter
from adapters.base import UpstreamRequest
from adapters.base_media import (
    AsrStreamAdapter,
    EmbeddingAdapter,
    ImageAdapter,
    MessageSocket,
    RealtimeAdapter,
    SocketTarget,
    SpeechAdapter,
    TranscriptionAdapter,
    UnsupportedProtocol,
    UpstreamForm,
)
from adapters.mock import MockResponse, error_response, serve_chat
from adapters.mock_asr import MOCK_ASR_URL, MockAsrAdapter, connect_mock_asr
from adapters.mock_audio import (
    MOCK_SPEECH_URL,
    MOCK_TRANSCRIPTIONS_URL,
    MockAudioAdapter,
    serve_speech,
    serve_transcription,
)
from adapters.mock_embeddings import MOCK_EMBEDDINGS_URL, MockEmbeddingAdapter, serve_embeddings
from adapters.mock_images import (
    MOCK_EDITS_URL,
    MOCK_IMAGES_URL,
    MockImageAdapter,
    serve_image_edits,
    serve_images,
)
from adapters.openai_audio import OpenAIAudioAdapter
from adapters.openai_embeddings import OpenAIEmbeddingAdapter
from adapters.openai_images import OpenAIImageAdapter
from adapters.openai_realtime import OpenAIRealtimeAdapter

A = TypeVar("A")


def _pick(table: dict[str, A], protocol: str, what: str) -> A:
    adapter = table.get(protocol)
    if adapter is None:
        raise UnsupportedProtocol(f"The channel's protocol '{protocol}' does not serve {what}.")
    return adapter


def embedding_adapter(protocol: str) -> EmbeddingAdapter:
    return _pick(_embeddings(), protocol, "embeddings")


def speech_adapter(protocol: str) -> SpeechAdapter:
    return _pick(_audio(), protocol, "speech")


def transcription_adapter(protocol: str) -> TranscriptionAdapter:
    return _pick(_audio(), protocol, "transcriptions")


def image_adapter(protocol: str) -> ImageAdapter:
    return _pick(_images(), protocol, "images")


def asr_stream_adapter(protocol: str) -> AsrStreamAdapter:
    return _pick(_asr(), protocol, "streaming recognition")


def realtime_adapter(protocol: str) -> RealtimeAdapter:
    return _pick(_realtime(), protocol, "the Realtime API")


# Built on first use, then shared: cached functions rather than module globals.
@cache
def _embeddings() -> dict[str, EmbeddingAdapter]:
    return {
        "openai": OpenAIEmbeddingAdapter(),
        "azure": AzureEmbeddingAdapter(),
        "mock": MockEmbeddingAdapter(),
    }


@cache
def _audio() -> dict[str, OpenAIAudioAdapter | AzureAudioAdapter | MockAudioAdapter]:
    return {
        "openai": OpenAIAudioAdapter(),
        "azure": AzureAudioAdapter(),
        "mock": MockAudioAdapter(),
    }


@cache
def _images() -> dict[str, ImageAdapter]:
    return {
        "openai": OpenAIImageAdapter(),
        "azure": AzureImageAdapter(),
        "mock": MockImageAdapter(),
    }


@cache
def _asr() -> dict[str, AsrStreamAdapter]:
    return {"openai": OpenAIRealtimeAdapter(), "mock": MockAsrAdapter()}


@cache
def _realtime() -> dict[str, RealtimeAdapter]:
    return {"openai": OpenAIRealtimeAdapter()}


async def serve_mock(request: UpstreamRequest) -> MockResponse:
    """Answer a `mock:` request in process, by its URL."""
    served: dict[str, Callable[[UpstreamRequest], Awaitable[MockResponse]]] = {
        MOCK_EMBEDDINGS_URL: serve_embeddings,
        MOCK_SPEECH_URL: serve_speech,
        MOCK_IMAGES_URL: serve_images,
    }
    return await served.get(request.url, serve_chat)(request)


async def serve_mock_form(form: UpstreamForm) -> MockResponse:
    if form.url == MOCK_TRANSCRIPTIONS_URL:
        return await serve_transcription(form)
    if form.url == MOCK_EDITS_URL:
        return await serve_image_edits(form)
    return error_response(404, f"The mock serves no form at {form.url!r}.")


def connect_mock(target: SocketTarget) -> MessageSocket:
    if target.url == MOCK_ASR_URL:
        return connect_mock_asr(target)
    raise UnsupportedProtocol(f"The mock serves no WebSocket at {target.url!r}.")
