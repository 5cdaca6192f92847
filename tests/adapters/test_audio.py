"""Audio bytes without I/O: WAV headers, the tone, sniffing, durations, resampling."""

from __future__ import annotations

import io
import struct
import wave

import pytest

from adapters.audio import Resampler, probe_duration, sniff, tone, wav_header
from tests.fakes.audio import wav_bytes


def test_wav_header_and_tone_make_a_valid_wav() -> None:
    pcm = tone(24000)
    with wave.open(io.BytesIO(wav_header(len(pcm)) + pcm)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getnframes()) == (24000, 1, 24000)
    assert len(tone(61)) == 122
    assert max(struct.unpack("<60h", tone(60))) > 5000


def test_probe_wav_including_streaming_headers() -> None:
    data = wav_bytes(2.5)
    assert probe_duration(data[:4096], len(data)) == pytest.approx(2.5)
    streaming = data[:40] + b"\xff\xff\xff\xff" + data[44:]
    assert probe_duration(streaming[:4096], len(streaming)) == pytest.approx(2.5)


def test_probe_flac_and_mp3() -> None:
    rate, samples = 16000, 48000
    packed = (rate << 44) | (0 << 41) | (15 << 36) | samples
    flac = b"fLaC" + b"\x00\x00\x00\x22" + b"\x00" * 10 + packed.to_bytes(8, "big") + b"\x00" * 16
    assert sniff(flac) == "flac"
    assert probe_duration(flac, 10_000) == pytest.approx(3.0)
    frame = b"\xff\xfb\x90\x00"  # MPEG-1 layer III, 128 kbit/s
    assert sniff(frame) == "mp3"
    assert probe_duration(frame, 16_000 * 4) == pytest.approx(4.0)
    tagged = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + frame
    assert probe_duration(tagged, 20 + 16_000) == pytest.approx(1.0)


def test_not_audio() -> None:
    assert sniff(b"hello world") is None
    assert probe_duration(b"hello world", 11) is None
    assert probe_duration(b"OggS" + b"\x00" * 20, 24) is None


def test_resampler_keeps_the_length_ratio_across_frames() -> None:
    resampler = Resampler(16000, 24000)
    out = b"".join(resampler.feed(tone(320, rate=16000)) for _ in range(50))
    assert abs(len(out) // 2 - 24000) <= 2
    assert Resampler(24000, 24000).feed(b"\x01\x02") == b"\x01\x02"
