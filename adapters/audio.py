"""Audio bytes without I/O: content types, WAV headers, a test tone, sniffing and durations.

`probe_duration` is how the gateway measures audio it bills by the second when the upstream
does not say: WAV (from the header's byte rate; a streaming header's unknown size falls back
to the file size), FLAC (STREAMINFO's sample count) and MP3 (the first frame's bitrate over
the file size, exact for constant bitrate). Anything else has no measured duration.
"""

from __future__ import annotations

import struct
from array import array
from math import pi, sin

SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
PCM_RATE = 24000  # OpenAI's pcm: 24 kHz, 16-bit signed little-endian, mono
WAV_HEADER_BYTES = 44
_MP3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)  # MPEG1 L3
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)  # MPEG2/2.5
_TONE_HZ = 400  # divides every supported rate: one period repeats without a seam


def wav_header(
    data_bytes: int, *, rate: int = PCM_RATE, channels: int = 1, bits: int = 16
) -> bytes:
    block = channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def tone(samples: int, *, rate: int = PCM_RATE, amplitude: int = 6000) -> bytes:
    """`samples` of a 400 Hz sine as 16-bit little-endian PCM."""
    period = rate // _TONE_HZ
    one = array("h", (int(amplitude * sin(2 * pi * i / period)) for i in range(period)))
    whole, rest = divmod(samples, period)
    return one.tobytes() * whole + one[:rest].tobytes()


def sniff(head: bytes) -> str | None:
    """The container the first bytes announce: wav, flac, mp3, ogg, webm, m4a; else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or _mp3_frame(head, 0) is not None:
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    return None


def probe_duration(head: bytes, size: int) -> float | None:
    """Seconds of audio in a file of `size` bytes that starts with `head` (≥ 4 KiB is best)."""
    kind = sniff(head)
    if kind == "wav":
        return _wav_seconds(head, size)
    if kind == "flac":
        return _flac_seconds(head)
    if kind == "mp3":
        return _mp3_seconds(head, size)
    return None


def _wav_seconds(head: bytes, size: int) -> float | None:
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, pos + 16)[0]
        elif chunk == b"data":
            if byte_rate <= 0:
                return None
            available = size - pos - 8
            data = available if length in (0, 0xFFFFFFFF) else min(length, available)
            return max(0, data) / byte_rate
        pos += 8 + length + (length & 1)
    return None


def _flac_seconds(head: bytes) -> float | None:
    # STREAMINFO is the first metadata block: 20 bits rate, 3 channels, 5 bps, 36 samples.
    if len(head) < 8 + 18:
        return None
    packed = int.from_bytes(head[8 + 10 : 8 + 18], "big")
    rate = packed >> 44
    total = packed & ((1 << 36) - 1)
    return total / rate if rate else None


def _mp3_seconds(head: bytes, size: int) -> float | None:
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        tag = head[6:10]
        start = 10 + ((tag[0] << 21) | (tag[1] << 14) | (tag[2] << 7) | tag[3])
    kbps = _mp3_frame(head, start)
    return None if kbps is None else max(0, size - start) * 8 / (kbps * 1000)


def _mp3_frame(head: bytes, pos: int) -> int | None:
    """The bitrate (kbit/s) of an MPEG audio layer III frame header at `pos`, if one is there."""
    if pos + 4 > len(head) or head[pos] != 0xFF or head[pos + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[pos + 1] >> 3) & 3, (head[pos + 1] >> 1) & 3
    index = head[pos + 2] >> 4
    if layer != 1 or version == 1 or index in (0, 15):
        return None
    return (_MP3_BITRATES if version == 3 else _MP3_BITRATES_V2)[index]


class Resampler:
    """Linear resampling of 16-bit mono PCM, frame by frame, without seams between frames."""

    __slots__ = ("_last", "_pos", "_step")

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self._step = source_rate / target_rate
        self._pos = 0.0  # where the next output sample falls, in input samples from `_last`
        self._last = 0

    def feed(self, pcm: bytes) -> bytes:
        if self._step == 1.0:
            return pcm
        samples = array("h")
        samples.frombytes(pcm[: len(pcm) // 2 * 2])
        source = [self._last, *samples]
        out = array("h")
        pos, step, end = self._pos, self._step, len(source) - 1
        while pos < end:
            i = int(pos)
            frac = pos - i
            out.append(int(source[i] + (source[i + 1] - source[i]) * frac))
            pos += step
        self._pos = pos - end
        self._last = source[-1]
        return out.tobytes()
