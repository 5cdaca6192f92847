"""The mock's speech and transcription: a valid WAV/PCM tone, and a transcript of any audio.

Speech lasts about one second per 15 characters of input (divided by `speed`), 24 kHz 16-bit
mono, streamed in 100 ms pieces (`X-Bella-Mock-TTFT-Ms` before the first, `…-Interval-Ms`
between them). The mock speaks `wav` and `pcm` only: other formats are answered 400.

Transcription reads the file's head: what is not audio is refused as OpenAI does (400), the
rest is "transcribed" as about 2.5 words of the mock text per second of measured audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from adapters.audio import PCM_RATE, probe_duration, sniff, tone, wav_header
from adapters.base import Channel, UpstreamRequest
from adapters.base_media import AudioForm, FilePart, Transcript, UpstreamForm
from adapters.errors import UpstreamError
from adapters.mock import MockResponse, Sleep, error_response, mock_headers, parse_mock_settings
from adapters.mock_chat import DEFAULT_TEXT
from adapters.mock_common import single
from adapters.openai_audio import OpenAIAudioAdapter
from adapters.openai_embeddings import json_request
from adapters.transcript import CONTENT_TYPES, Segment, render

MOCK_SPEECH_URL = "mock:speech"
MOCK_TRANSCRIPTIONS_URL = "mock:transcriptions"
CHARS_PER_SECOND = 15
PIECE_SAMPLES = PCM_RATE // 10  # 100 ms
WORDS_PER_SECOND = 2.5
WORDS_PER_SEGMENT = 8
HEAD_BYTES = 64 * 1024
UNKNOWN_BYTES_PER_SECOND = 16_000  # a container we cannot measure: read as 128 kbit/s
SPOKEN = ("wav", "pcm")
AUDIO_KINDS = "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm"


class MockAudioAdapter:
    """`SpeechAdapter` and `TranscriptionAdapter` for the in-process mock."""

    def __init__(self) -> None:
        self._openai = OpenAIAudioAdapter()

    def speech_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        wire = json_request(channel, "", body)
        headers = mock_headers(channel.options, client_headers)
        return UpstreamRequest("POST", MOCK_SPEECH_URL, headers, wire.body, stream=True)

    def speech_error(self, status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
        return self._openai.speech_error(status, headers, data)

    def transcription_request(
        self, channel: Channel, form: AudioForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        return UpstreamForm(
            url=MOCK_TRANSCRIPTIONS_URL,
            headers=mock_headers(channel.options, client_headers),
            fields=form.fields,
            files=(FilePart("file", form.audio),),
        )

    def transcription_result(
        self, status: int, headers: Mapping[str, str], data: bytes, response_format: str
    ) -> Transcript:
        return self._openai.transcription_result(status, headers, data, response_format)


def speech_samples(text: str, speed: float = 1.0) -> int:
    seconds = max(0.2, len(text) / CHARS_PER_SECOND) / speed
    return int(seconds * PCM_RATE)


async def serve_speech(request: UpstreamRequest, *, sleep: Sleep = asyncio.sleep) -> MockResponse:
    settings = parse_mock_settings(request.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(settings.status, f"Mock error {settings.status}.")
    body = orjson.loads(request.body)
    fmt = body.get("response_format") or "mp3"
    if fmt not in SPOKEN:
        return error_response(400, f"The mock speaks wav and pcm only, not {fmt!r}.")
    speed = body.get("speed") or 1.0
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return error_response(400, "'speed' must be a number of 0.25 to 4.0.")
    samples = speech_samples(str(body.get("input") or ""), float(speed))
    pieces = _tone_pieces(samples, with_header=fmt == "wav")
    content_type = "audio/wav" if fmt == "wav" else "audio/pcm"
    delays = (settings.ttft_ms / 1000, settings.interval_ms / 1000)
    return MockResponse(200, {"Content-Type": content_type}, _paced(pieces, delays, sleep))


def _tone_pieces(samples: int, *, with_header: bool) -> list[bytes]:
    piece = tone(PIECE_SAMPLES)
    whole, rest = divmod(samples, PIECE_SAMPLES)
    pieces = [piece] * whole + ([tone(rest)] if rest else [])
    if with_header:
        pieces[0] = wav_header(samples * 2) + pieces[0]
    return pieces


async def _paced(
    pieces: list[bytes], delays: tuple[float, float], sleep: Sleep
) -> AsyncIterator[bytes]:
    first, between = delays
    if first > 0:
        await sleep(first)
    for i, piece in enumerate(pieces):
        if i and between > 0:
            await sleep(between)
        yield piece


async def serve_transcription(form: UpstreamForm) -> MockResponse:
    settings = parse_mock_settings(form.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(settings.status, f"Mock error {settings.status}.")
    fields = dict(form.fields)
    response_format = fields.get("response_format") or "json"
    if response_format not in CONTENT_TYPES:
        return error_response(400, f"Unsupported response_format {response_format!r}.")
    audio = form.files[0].blob
    head = await audio.head(HEAD_BYTES)
    if sniff(head) is None:
        message = f"Invalid file format. Supported formats: [{AUDIO_KINDS}]"
        return error_response(400, message)
    duration = probe_duration(head, audio.size) or audio.size / UNKNOWN_BYTES_PER_SECOND
    segments = transcribe(duration, settings.text or DEFAULT_TEXT)
    language = fields.get("language", "")
    data = render(segments, response_format, duration=duration, language=language)
    headers = {"Content-Type": CONTENT_TYPES[response_format]}
    return MockResponse(200, headers, single(data))


def transcribe(duration: float, text: str) -> list[Segment]:
    """Segments of the mock text spread over `duration` seconds, about 2.5 words a second."""
    words = text.split() or ["…"]
    count = max(1, round(duration * WORDS_PER_SECOND))
    spoken = [words[i % len(words)] for i in range(count)]
    per_word = duration / count
    segments = []
    for start in range(0, count, WORDS_PER_SEGMENT):
        chunk = spoken[start : start + WORDS_PER_SEGMENT]
        begin = start * per_word
        segments.append(Segment(begin, begin + len(chunk) * per_word, " ".join(chunk)))
    return segments
