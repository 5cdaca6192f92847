"""Embeddings, speech, transcription and images through the gateway to a fake Azure resource,
with the openai SDK as the client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from adapters.mock_images import PNG_SIGNATURE, png
from tests.fakes.audio import wav_bytes
from tests.fakes.azure_media import (
    EMBEDDING_DEPLOYMENT,
    IMAGE_DEPLOYMENT,
    TTS_DEPLOYMENT,
    WHISPER_DEPLOYMENT,
    FakeAzureMedia,
)
from tests.fakes.azure_upstream import API_KEY
from tests.fakes.openai_media import SPEECH_HEAD, SPEECH_TAIL
from tests.gateway.endpoints.helpers import sdk, usage_of
from tests.harness import Gateway, gateway_settings, running_gateway

MODELS = {
    "az-embed": (["/v1/embeddings"], EMBEDDING_DEPLOYMENT, {"input": "1"}),
    "az-tts": (["/v1/audio/speech"], TTS_DEPLOYMENT, {"per_10k_chars": "10"}),
    "az-asr": (["/v1/audio/transcriptions"], WHISPER_DEPLOYMENT, {"per_second": "0.5"}),
    "az-image": (
        ["/v1/images/generations", "/v1/images/edits"],
        IMAGE_DEPLOYMENT,
        {"per_image": "0.5"},
    ),
}
VERSION = "2024-06-01"


def azure_catalog(url: str) -> dict[str, Any]:
    models = [{"name": name, "endpoints": paths} for name, (paths, _, _) in MODELS.items()]
    channels = [
        {
            "code": f"ch-{name}",
            "model": name,
            "protocol": "azure",
            "url": url,
            "credentials": {"api_key": API_KEY},
            "deploy_name": deployment,
            "price": price,
            "options": {"api_version": VERSION},
        }
        for name, (_, deployment, price) in MODELS.items()
    ]
    return {"models": models, "channels": channels}


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzureMedia]:
    fake = FakeAzureMedia()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gw(tmp_path: Path, azure: FakeAzureMedia) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path, "", azure_catalog(azure.url))) as gw:
        yield gw


def sent_as_azure(fake: FakeAzureMedia, deployment: str, path: str) -> None:
    assert fake.paths[-1] == f"/openai/deployments/{deployment}/{path}?api-version={VERSION}"
    headers = {name.lower(): value for name, value in fake.headers[-1].items()}
    assert headers["api-key"] == API_KEY
    assert "authorization" not in headers


async def test_embeddings_float_and_base64(gw: Gateway, azure: FakeAzureMedia) -> None:
    async with sdk(gw) as client:
        floats = await client.embeddings.create(
            model="az-embed", input=["a", "b"], dimensions=4, encoding_format="float"
        )
        packed = await client.embeddings.create(
            model="az-embed", input="a", dimensions=4, encoding_format="base64"
        )
    assert [d.embedding for d in floats.data] == [[0.5] * 4] * 2
    sent_as_azure(azure, EMBEDDING_DEPLOYMENT, "embeddings")
    assert azure.requests[-1]["encoding_format"] == "base64"
    raw: object = packed.data[0].embedding  # typed list[float], but passed on as sent
    assert isinstance(raw, str)
    assert base64.b64decode(raw) == b"\x00\x00\x00\x3f" * 4
    records = await usage_of(gw, "/v1/embeddings", 2)
    assert sorted(r.prompt_tokens for r in records) == [3, 6]
    assert {r.status for r in records} == {200}


async def test_speech_is_streamed(gw: Gateway, azure: FakeAzureMedia) -> None:
    async with (
        sdk(gw) as client,
        client.audio.speech.with_streaming_response.create(
            model="az-tts", input="Hello there", voice="alloy", response_format="mp3"
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/mpeg"
        audio = b"".join([chunk async for chunk in response.iter_bytes()])
    assert audio == SPEECH_HEAD + SPEECH_TAIL
    sent_as_azure(azure, TTS_DEPLOYMENT, "audio/speech")
    assert azure.requests[-1]["model"] == TTS_DEPLOYMENT
    [record] = await usage_of(gw, "/v1/audio/speech")
    assert (record.status, record.cost) == (200, Decimal("0.011"))  # 11 chars at 10 per 10k


async def test_transcription_json(gw: Gateway, azure: FakeAzureMedia) -> None:
    audio = wav_bytes(2.0)
    async with sdk(gw) as client:
        answer = await client.audio.transcriptions.create(
            model="az-asr", file=("a.wav", audio), response_format="json", language="en"
        )
    assert answer.text.startswith("fake azure words")
    sent_as_azure(azure, WHISPER_DEPLOYMENT, "audio/transcriptions")
    form = azure.requests[-1]
    assert form["files"]["file"] == ("a.wav", audio)
    assert (form["fields"]["model"], form["fields"]["language"]) == (WHISPER_DEPLOYMENT, "en")
    [record] = await usage_of(gw, "/v1/audio/transcriptions")
    assert (record.status, record.cost) == (200, Decimal("1"))  # 2 s at 0.5


async def test_image_generation_and_edit_b64(gw: Gateway, azure: FakeAzureMedia) -> None:
    image = png(4, 4, b"\x01\x02\x03\x04\x05\x06")
    async with sdk(gw) as client:
        generated = await client.images.generate(
            model="az-image", prompt="a fox", n=2, response_format="b64_json"
        )
        sent_as_azure(azure, IMAGE_DEPLOYMENT, "images/generations")
        assert azure.requests[-1]["response_format"] == "b64_json"
        edited = await client.images.edit(
            model="az-image",
            image=("in.png", image, "image/png"),
            prompt="add a hat",
            response_format="b64_json",
        )
    assert generated.data is not None
    assert edited.data is not None
    assert len(generated.data) == 2
    for item in (*generated.data, *edited.data):
        assert base64.b64decode(item.b64_json or "").startswith(PNG_SIGNATURE)
    sent_as_azure(azure, IMAGE_DEPLOYMENT, "images/edits")
    form = azure.requests[-1]
    assert form["files"]["image"] == ("in.png", image)
    assert form["fields"]["prompt"] == "add a hat"
    records = await usage_of(gw, "/v1/images/generations")
    assert [r.cost for r in records] == [Decimal("1")]  # 2 images at 0.5


async def test_azure_failures_are_mapped(gw: Gateway, azure: FakeAzureMedia) -> None:
    azure.fail_with = 500
    async with sdk(gw) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.embeddings.create(model="az-embed", input="x")
        assert caught.value.status_code == 502
        azure.fail_with = 400
        with pytest.raises(openai.BadRequestError):
            await client.images.generate(model="az-image", prompt="p")
