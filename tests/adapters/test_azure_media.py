"""The Azure media adapters' requests and answers, without I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters.azure_media import (
    AzureAudioAdapter,
    AzureEmbeddingAdapter,
    AzureImageAdapter,
    deployment_url,
)
from adapters.base import Channel
from adapters.base_media import AudioForm, FilePart, ImageForm
from adapters.errors import UpstreamBadRequest, UpstreamRateLimited, UpstreamServerError
from adapters.media import embedding_adapter, image_adapter, speech_adapter, transcription_adapter

BASE = "https://res.openai.azure.com"
KEY = "azure-key-0123"


def channel(deploy_name: str = "dep", **fields: Any) -> Channel:
    values: dict[str, Any] = {"credentials": {"api_key": KEY}, **fields}
    return Channel("ch-az", "azure", BASE, deploy_name, **values)


class Bytes:
    filename = "a.wav"
    content_type = "audio/wav"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.data

    async def head(self, limit: int) -> bytes:
        return self.data[:limit]


def test_registered_for_every_media_endpoint() -> None:
    assert isinstance(embedding_adapter("azure"), AzureEmbeddingAdapter)
    assert isinstance(speech_adapter("azure"), AzureAudioAdapter)
    assert isinstance(transcription_adapter("azure"), AzureAudioAdapter)
    assert isinstance(image_adapter("azure"), AzureImageAdapter)


def test_deployment_urls() -> None:
    assert deployment_url(channel(), "embeddings") == (
        f"{BASE}/openai/deployments/dep/embeddings?api-version=2024-10-21"
    )
    moved = Channel("c", "azure", BASE + "/openai/", "a b", options={"api_version": "2025-x"})
    assert deployment_url(moved, "audio/speech") == (
        f"{BASE}/openai/deployments/a%20b/audio/speech?api-version=2025-x"
    )
    v1 = channel(options={"api_version": "v1"})
    assert deployment_url(v1, "images/edits") == f"{BASE}/openai/v1/images/edits"


def test_embedding_request_uses_api_key_and_passes_the_answer() -> None:
    adapter = AzureEmbeddingAdapter()
    ch = channel(options={"headers": {"x-ms-client-request-id": "r1"}, "drop_fields": ["user"]})
    request = adapter.embedding_request(ch, {"model": "pub", "input": "x", "user": "u"}, {})
    assert request.url == f"{BASE}/openai/deployments/dep/embeddings?api-version=2024-10-21"
    assert request.headers == {
        "Content-Type": "application/json",
        "api-key": KEY,
        "x-ms-client-request-id": "r1",
    }
    assert orjson.loads(request.body) == {"model": "dep", "input": "x"}
    body = orjson.dumps({"data": [], "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    result = adapter.embedding_result(200, {}, body)
    assert result.body == body
    assert result.usage is not None
    assert result.usage.prompt_tokens == 4


def test_azure_error_bodies_are_mapped() -> None:
    adapter = AzureEmbeddingAdapter()
    denied = b'{"error": {"code": "401", "message": "Access denied due to invalid key."}}'
    with pytest.raises(UpstreamServerError, match=r"credentials.*Access denied") as caught:
        adapter.embedding_result(401, {}, denied)
    assert caught.value.retryable
    busy = b'{"error": {"code": "429", "message": "Rate limit is exceeded."}}'
    with pytest.raises(UpstreamRateLimited) as limited:
        adapter.embedding_result(429, {"retry-after-ms": "1500"}, busy)
    assert limited.value.retry_after == 1.5
    missing = b'{"error": {"code": "DeploymentNotFound", "message": "No deployment."}}'
    error = AzureAudioAdapter().speech_error(404, {}, missing)
    assert isinstance(error, UpstreamBadRequest)
    assert error.message == "No deployment."
    blocked = b'{"error": {"code": "contentFilter", "message": "Blocked by the safety system."}}'
    with pytest.raises(UpstreamBadRequest, match="safety system"):
        AzureImageAdapter().image_result(400, {}, blocked)


def test_speech_request() -> None:
    body = {"model": "tts-1", "input": "hi", "voice": "alloy"}
    request = AzureAudioAdapter().speech_request(channel(), body, {})
    assert request.url == f"{BASE}/openai/deployments/dep/audio/speech?api-version=2024-10-21"
    assert "Authorization" not in request.headers
    assert request.headers["api-key"] == KEY
    assert orjson.loads(request.body) == {**body, "model": "dep"}


def test_transcription_form() -> None:
    adapter = AzureAudioAdapter()
    form = AudioForm(Bytes(b"RIFF"), (("model", "whisper-1"), ("response_format", "json")))
    upstream = adapter.transcription_request(channel(), form, {})
    assert upstream.url == (
        f"{BASE}/openai/deployments/dep/audio/transcriptions?api-version=2024-10-21"
    )
    assert upstream.headers == {"api-key": KEY}  # the multipart writer sets Content-Type
    assert upstream.fields == (("model", "dep"), ("response_format", "json"))
    assert [part.name for part in upstream.files] == ["file"]
    answer = adapter.transcription_result(
        200, {}, b'{"text": "hi", "usage": {"type": "duration", "seconds": 2}}', "json"
    )
    assert (answer.content_type, answer.duration_s) == ("application/json", 2.0)


def test_images_ask_for_b64_and_edits_send_the_mask() -> None:
    adapter = AzureImageAdapter()
    body = {"model": "dall-e-3", "prompt": "p", "response_format": "url"}
    request = adapter.image_request(channel(), body, {})
    assert request.url == (
        f"{BASE}/openai/deployments/dep/images/generations?api-version=2024-10-21"
    )
    assert orjson.loads(request.body) == {
        "model": "dep",
        "prompt": "p",
        "response_format": "b64_json",
    }
    form = ImageForm((FilePart("image", Bytes(b"png")),), Bytes(b"mask"), (("prompt", "p"),))
    edit = adapter.image_edit_request(channel(options={"api_version": "v1"}), form, {})
    assert edit.url == f"{BASE}/openai/v1/images/edits"
    assert edit.headers == {"api-key": KEY}
    assert [part.name for part in edit.files] == ["image", "mask"]
    assert ("response_format", "b64_json") in edit.fields
    items = adapter.image_result(200, {}, b'{"created": 1, "data": [{"b64_json": "AA=="}]}')
    assert items == [{"b64_json": "AA=="}]
