"""The OpenAI-compatible media adapters' requests and answers, without I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from adapters.base import Channel
from adapters.base_media import AudioForm, FilePart, ImageForm, UnsupportedProtocol
from adapters.errors import UpstreamBadRequest, UpstreamRateLimited
from adapters.media import embedding_adapter, image_adapter, realtime_adapter, transcription_adapter
from adapters.openai_audio import OpenAIAudioAdapter, reported_duration
from adapters.openai_embeddings import OpenAIEmbeddingAdapter
from adapters.openai_images import OpenAIImageAdapter

CHANNEL = Channel("ch", "openai", "https://up.example/v1/", "deployed", {"api_key": "sk-up"})


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


def test_embedding_request_and_result() -> None:
    adapter = OpenAIEmbeddingAdapter()
    request = adapter.embedding_request(
        CHANNEL, {"model": "pub", "input": "x", "dimensions": 3}, {}
    )
    assert request.url == "https://up.example/v1/embeddings"
    assert orjson.loads(request.body) == {"model": "deployed", "input": "x", "dimensions": 3}
    body = orjson.dumps({"data": [], "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    result = adapter.embedding_result(200, {}, body)
    assert result.body == body
    assert result.usage is not None
    assert result.usage.prompt_tokens == 4
    with pytest.raises(UpstreamRateLimited):
        adapter.embedding_result(429, {"Retry-After": "2"}, b"{}")


def test_transcription_form_replaces_the_model_and_keeps_fields() -> None:
    form = AudioForm(Bytes(b"RIFF"), (("model", "pub"), ("timestamp_granularities[]", "word")))
    upstream = OpenAIAudioAdapter().transcription_request(CHANNEL, form, {})
    assert upstream.url == "https://up.example/v1/audio/transcriptions"
    assert upstream.fields == (("model", "deployed"), ("timestamp_granularities[]", "word"))
    assert upstream.files[0].name == "file"
    assert "Content-Type" not in upstream.headers
    assert upstream.headers["Authorization"]
    with pytest.raises(UpstreamBadRequest):
        OpenAIAudioAdapter().transcription_result(400, {}, b'{"error": {"message": "bad"}}', "json")


def test_reported_durations() -> None:
    assert reported_duration(b'{"text": "x", "duration": 2.5}') == 2.5
    assert reported_duration(b'{"text": "x", "usage": {"type": "duration", "seconds": 3}}') == 3
    assert reported_duration(b'{"text": "x", "usage": {"type": "tokens"}}') is None
    assert reported_duration(b"plain text") is None


def test_images_ask_for_b64_unless_the_channel_says_omit() -> None:
    adapter = OpenAIImageAdapter()
    body = {"model": "pub", "prompt": "p", "response_format": "url"}
    sent = orjson.loads(adapter.image_request(CHANNEL, body, {}).body)
    assert sent == {"model": "deployed", "prompt": "p", "response_format": "b64_json"}
    omit = Channel("c", "openai", "https://x/v1", options={"image_response_format": "omit"})
    assert "response_format" not in orjson.loads(adapter.image_request(omit, body, {}).body)
    form = ImageForm((FilePart("image[]", Bytes(b"png")),), Bytes(b"mask"), (("prompt", "p"),))
    edit = adapter.image_edit_request(CHANNEL, form, {})
    assert [f.name for f in edit.files] == ["image[]", "mask"]
    assert ("response_format", "b64_json") in edit.fields


def test_unknown_protocols_are_a_retryable_upstream_error() -> None:
    for pick in (embedding_adapter, transcription_adapter, image_adapter, realtime_adapter):
        with pytest.raises(UnsupportedProtocol) as caught:
            pick("anthropic")
        assert caught.value.retryable
