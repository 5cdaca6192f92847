"""Test audio: WAV files and PCM frames made on the spot."""

from __future__ import annotations

import io
import wave


def wav_bytes(seconds: float = 2.0, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * int(rate * seconds))
    return buffer.getvalue()


def pcm_frame(millis: int = 20, rate: int = 16000) -> bytes:
    return b"\x10\x00" * (rate * millis // 1000)
