"""The client side of `bench.ws_asr`: N realtime ASR sessions at 50 frames/s each.

Each session connects, sends StartTranscription, waits for TranscriptionStarted, then sends
a 20 ms frame of 16 kHz PCM every 20 ms (the send time stamped in its first 8 bytes, see
`bench.asr_upstream`) for `--seconds`, then StopTranscription, and waits for
TranscriptionCompleted. Session starts are spread over one frame interval. Prints one JSON
line: sessions completed, frames sent, events received, the streaming window, failures.

    python -m bench.asr_load --url ws://127.0.0.1:8080 --key sk-… --sessions 200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import orjson
import uvloop

FRAME_S = 0.02
FRAME_BYTES = 640  # 20 ms of 16 kHz 16-bit mono
START = orjson.dumps(
    {
        "header": {"name": "StartTranscription", "task_id": "bench"},
        "payload": {"format": "pcm", "sample_rate": 16000},
    }
).decode()
STOP = orjson.dumps({"header": {"name": "StopTranscription", "task_id": "bench"}}).decode()
_STAMP = struct.Struct("<d")


@dataclass
class Totals:
    completed: int = 0
    frames: int = 0
    events: int = 0
    late_frames: int = 0  # sent more than one frame interval after their due time
    failures: list[str] = field(default_factory=list)
    first_frame: float = float("inf")
    last_frame: float = 0.0


async def one(
    http: aiohttp.ClientSession,
    url: str,
    key: str,
    args: argparse.Namespace,
    offset: float,
    totals: Totals,
) -> None:
    headers = {"Authorization": f"Bearer {key}", "X-Bella-Max-Wait": "30"}
    try:
        async with http.ws_connect(url, headers=headers, max_msg_size=1 << 20) as ws:
            await ws.send_str(START)
            started = await ws.receive(timeout=30)
            if b"TranscriptionStarted" not in str(started.data).encode():
                raise RuntimeError(f"no TranscriptionStarted: {started.data!r}")
            reader = asyncio.ensure_future(_read(ws, totals))
            await asyncio.sleep(offset)
            await _stream(ws, args.seconds, totals)
            await ws.send_str(STOP)
            await asyncio.wait_for(reader, 30)
            totals.completed += 1
    except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as exc:  # said at the end
        totals.failures.append(f"{type(exc).__name__}: {exc}")


async def _stream(ws: aiohttp.ClientWebSocketResponse, seconds: float, totals: Totals) -> None:
    frame = bytearray(FRAME_BYTES)
    loop = asyncio.get_running_loop()
    due = loop.time()
    end = due + seconds
    while due < end:
        now = time.monotonic()
        if loop.time() - due > FRAME_S:
            totals.late_frames += 1
        _STAMP.pack_into(frame, 0, now)
        await ws.send_bytes(bytes(frame))
        totals.frames += 1
        totals.first_frame = min(totals.first_frame, now)
        totals.last_frame = max(totals.last_frame, now)
        due += FRAME_S
        await asyncio.sleep(max(0.0, due - loop.time()))


async def _read(ws: aiohttp.ClientWebSocketResponse, totals: Totals) -> None:
    async for msg in ws:
        totals.events += 1
        if msg.type is aiohttp.WSMsgType.TEXT and "TranscriptionCompleted" in msg.data:
            return
        if msg.type is aiohttp.WSMsgType.TEXT and "TaskFailed" in msg.data:
            raise RuntimeError(msg.data)
    raise RuntimeError("closed before TranscriptionCompleted")


async def run(args: argparse.Namespace) -> Totals:
    totals = Totals()
    url = f"{args.url}/v1/audio/asr/stream?model={args.model}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        offsets = [FRAME_S * i / args.sessions for i in range(args.sessions)]
        await asyncio.gather(*(one(http, url, args.key, args, o, totals) for o in offsets))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asr_load")
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="bench-asr")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    uvloop.install()
    totals = asyncio.run(run(args))
    summary = {
        "completed": totals.completed,
        "frames": totals.frames,
        "events": totals.events,
        "late_frames": totals.late_frames,
        "window_s": max(0.0, totals.last_frame - totals.first_frame),
        "failures": totals.failures[:5],
        "failed": len(totals.failures),
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    main()
