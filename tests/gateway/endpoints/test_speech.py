"""POST /v1/audio/speech: audio streamed as produced, the right Content-Type, per character."""

from __future__ import annotations

import asyncio
import io
import wave
from decimal import Decimal

import orjson
import pytest

from tests.fakes.openai_media import SPEECH_HEAD, SPEECH_TAIL, FakeMedia
from tests.gateway.endpoints.helpers import post, sdk, usage_of
from tests.harness import Gateway

ENDPOINT = "/v1/audio/speech"
TEXT = "The quick brown fox jumps over the lazy dog."  # 44 characters


async def test_mock_speaks_a_valid_wav_of_plausible_length(demo: Gateway) -> None:
    async with (
        sdk(demo) as client,
        client.audio.speech.with_streaming_response.create(
            model="mock-tts", input=TEXT, voice="alloy", response_format="wav"
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/wav"
        data = b"".join([chunk async for chunk in response.iter_bytes()])
    with wave.open(io.BytesIO(data)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
    assert seconds == pytest.approx(len(TEXT) / 15, rel=0.01)
    [record] = await usage_of(demo, ENDPOINT)
    assert record.cost == Decimal("0.00066")  # 44 chars at 0.15 per 10k


async def test_mock_pcm_and_unsupported_mock_format(demo: Gateway) -> None:
    def body(fmt: str) -> dict[str, str]:
        return {"model": "mock-tts", "input": "hello", "response_format": fmt}

    status, headers, pcm = await post(demo, ENDPOINT, json=body("pcm"))
    assert (status, headers["Content-Type"]) == (200, "audio/pcm")
    assert len(pcm) == int(5 / 15 * 24000) * 2  # 5 chars: 1/3 s of 24 kHz 16-bit
    status, _, _ = await post(demo, ENDPOINT, json=body("mp3"))
    assert status == 400  # the mock speaks wav and pcm only: its 400, mapped
    status, _, data = await post(demo, ENDPOINT, json=body("ogg"))
    assert status == 400
    assert orjson.loads(data)["error"]["param"] == "response_format"


async def test_first_bytes_arrive_before_the_upstream_finished(
    openai_gw: Gateway, media: FakeMedia
) -> None:
    media.speech_gate = asyncio.Event()
    async with (
        sdk(openai_gw) as client,
        client.audio.speech.with_streaming_response.create(
            model="o-tts", input=TEXT, voice="alloy", response_format="mp3"
        ) as response,
    ):
        assert response.headers["content-type"] == "audio/mpeg"
        chunks = response.iter_bytes()
        head = await anext(chunks)
        assert head == SPEECH_HEAD[: len(head)]
        assert not media.speech_finished
        media.speech_gate.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert head + rest == SPEECH_HEAD + SPEECH_TAIL
    assert media.requests[-1]["model"] == "up-o-tts"
    [record] = await usage_of(openai_gw, ENDPOINT)
    assert (record.status, record.cost) == (200, Decimal("0.044"))
    assert record.ttft_ms is not None


async def test_input_too_long_or_missing_is_400(demo: Gateway) -> None:
    long, _, _ = await post(demo, ENDPOINT, json={"model": "mock-tts", "input": "x" * 5000})
    missing, _, _ = await post(demo, ENDPOINT, json={"model": "mock-tts"})
    assert (long, missing) == (400, 400)
