"""The mock's media endpoints, sans network: vectors, tones, transcripts, PNGs, ASR words."""

from __future__ import annotations

import base64
import struct
import zlib
from array import array
from typing import Any

import orjson
import pytest

from adapters.asr_events import Completed, ResultChanged, SentenceBegin, SentenceEnd, Started
from adapters.base import UpstreamRequest
from adapters.base_media import AsrParams
from adapters.media import serve_mock
from adapters.mock_asr import MockAsrEngine
from adapters.mock_embeddings import float32_base64, vector
from adapters.mock_images import PNG_SIGNATURE, parse_size, png
from adapters.transcript import Segment, flash_result, render


async def served(url: str, body: dict[str, Any], **headers: str) -> tuple[int, bytes]:
    answer = await serve_mock(UpstreamRequest("POST", url, headers, orjson.dumps(body)))
    return answer.status, b"".join([chunk async for chunk in answer.body])


def test_vectors_are_unit_length_and_deterministic() -> None:
    first = vector("hello", 64)
    assert first == vector("hello", 64)
    assert first != vector("hellO", 64)
    assert sum(v * v for v in first) == pytest.approx(1.0)
    decoded = array("f")
    decoded.frombytes(base64.b64decode(float32_base64(first)))
    assert list(decoded) == pytest.approx(first, abs=1e-6)
    assert base64.b64decode(float32_base64([1.0])) == struct.pack("<f", 1.0)


async def test_mock_embeddings_answer() -> None:
    status, data = await served(
        "mock:embeddings", {"model": "m", "input": [[1, 2, 3], [4]], "dimensions": 3}
    )
    answer = orjson.loads(data)
    assert status == 200
    assert answer["usage"]["prompt_tokens"] == 4
    assert [len(d["embedding"]) for d in answer["data"]] == [3, 3]
    status, _ = await served("mock:embeddings", {"input": [{"x": 1}]})
    assert status == 400
    status, _ = await served("mock:embeddings", {"input": "x"}, **{"X-Bella-Mock-Status": "503"})
    assert status == 503


async def test_mock_speech_is_paced_in_pieces() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    from adapters.mock_audio import serve_speech

    request = UpstreamRequest(
        "POST",
        "mock:speech",
        {"X-Bella-Mock-TTFT-Ms": "50", "X-Bella-Mock-Interval-Ms": "10"},
        orjson.dumps({"input": "x" * 30, "response_format": "pcm"}),
    )
    answer = await serve_speech(request, sleep=sleep)
    pieces = [piece async for piece in answer.body]
    assert sum(len(p) for p in pieces) == 2 * 24000 * 2  # 30 chars: 2 s
    assert len(pieces) == 20
    assert slept == [0.05] + [0.01] * 19


def test_transcript_renders() -> None:
    segments = [Segment(0.0, 1.5, "one two"), Segment(1.5, 3723.25, "three")]
    srt = render(segments, "srt", duration=3723.25).decode()
    assert srt.splitlines()[:3] == ["1", "00:00:00,000 --> 00:00:01,500", "one two"]
    assert "01:02:03,250" in srt
    assert render(segments, "vtt", duration=3).decode().startswith("WEBVTT\n\n00:00:00.000")
    verbose = orjson.loads(render(segments, "verbose_json", duration=3723.25))
    assert verbose["duration"] == 3723.25
    assert len(verbose["segments"]) == 2
    result = flash_result(verbose, None)
    assert result["duration"] == 3723250
    assert result["sentences"][1] == {"text": "three", "begin_time": 1500, "end_time": 3723250}
    assert flash_result({"text": "hi"}, 2.0)["sentences"] == [
        {"text": "hi", "begin_time": 0, "end_time": 2000}
    ]


def test_png_is_valid() -> None:
    image = png(3, 2, b"\x00\x00\x00\xff\xff\xff")
    assert image.startswith(PNG_SIGNATURE)
    pos, chunks = 8, {}
    while pos < len(image):
        (length,) = struct.unpack(">I", image[pos : pos + 4])
        kind, data = image[pos + 4 : pos + 8], image[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", image[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks[kind] = data
        pos += 12 + length
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (3, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == 2 * (1 + 3 * 3)
    assert rows[1:4] == b"\x00\x00\x00"
    assert parse_size("auto") == (1024, 1024)
    assert parse_size("10x") is None


def test_mock_asr_engine_words_follow_the_audio() -> None:
    engine = MockAsrEngine("a b c d e f g h i j")
    assert isinstance(engine.start(AsrParams(sample_rate=16000))[0], Started)
    engine.audio_bytes = 32000 * 2  # 2 s: 5 words
    events = engine.tick()
    assert isinstance(events[0], SentenceBegin)
    assert events[-1] == ResultChanged(1, 2000, "a b c d e")
    assert engine.tick() == []
    engine.audio_bytes = 32000 * 4  # 10 words: one sentence of 8 ends
    events = engine.tick()
    assert SentenceEnd(1, 4000, 0, "a b c d e f g h") in events
    final = engine.finish()
    assert isinstance(final[-1], Completed)
    assert SentenceEnd(2, 4000, 3200, "i j") in final
