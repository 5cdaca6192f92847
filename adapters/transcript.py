"""Transcripts without I/O: OpenAI's response formats from segments, and Bella's flash result.

`render` writes what a Whisper-style server answers for each `response_format` (the mock
uses it); `flash_result` turns a `verbose_json` answer into the flash ASR's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

FORMATS = frozenset({"json", "text", "srt", "verbose_json", "vtt"})
CONTENT_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str


def render(
    segments: Sequence[Segment], response_format: str, *, duration: float, language: str = ""
) -> bytes:
    text = " ".join(s.text for s in segments)
    if response_format == "text":
        return (text + "\n").encode()
    if response_format == "srt":
        return "".join(_cue(i, s, ",") for i, s in enumerate(segments, 1)).encode()
    if response_format == "vtt":
        return ("WEBVTT\n\n" + "".join(_cue(None, s, ".") for s in segments)).encode()
    if response_format == "verbose_json":
        return orjson.dumps(_verbose(segments, text, duration, language))
    return orjson.dumps({"text": text})


def _verbose(
    segments: Sequence[Segment], text: str, duration: float, language: str
) -> dict[str, Any]:
    return {
        "task": "transcribe",
        "language": language or "english",
        "duration": round(duration, 3),
        "text": text,
        "segments": [
            {
                "id": i,
                "seek": 0,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.1,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
            for i, s in enumerate(segments)
        ],
    }


def _cue(index: int | None, segment: Segment, comma: str) -> str:
    number = "" if index is None else f"{index}\n"
    start, end = _clock(segment.start, comma), _clock(segment.end, comma)
    return f"{number}{start} --> {end}\n{segment.text}\n\n"


def _clock(seconds: float, comma: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{comma}{millis:03d}"


def flash_result(verbose: dict[str, Any], duration_s: float | None) -> dict[str, Any]:
    """`{duration, sentences: [{text, begin_time, end_time}]}` in milliseconds."""
    reported = verbose.get("duration")
    seconds = float(reported) if isinstance(reported, int | float) else duration_s or 0.0
    sentences = [
        {
            "text": str(s.get("text", "")).strip(),
            "begin_time": round(float(s.get("start", 0)) * 1000),
            "end_time": round(float(s.get("end", 0)) * 1000),
        }
        for s in verbose.get("segments") or ()
        if isinstance(s, dict)
    ]
    text = str(verbose.get("text") or "").strip()
    if not sentences and text:
        sentences = [{"text": text, "begin_time": 0, "end_time": round(seconds * 1000)}]
    return {"duration": round(seconds * 1000), "sentences": sentences}
