"""The mock ASR upstream as a WebSocket server, for `bench.ws_asr`; it also times the relay.

Each connection runs the mock's own engine (`adapters.mock_asr.MockAsrSocket`), so the
gateway relays to the same mock it uses in process, over a real socket. Audio frames carry
the client's send time (`time.monotonic()`, the same clock in every process of a Linux
machine) as a little-endian double in their first 8 bytes: the server records, per frame,
how long it took from the client's send to its arrival here, through the gateway.
`GET /stats` reports the delays seen since `POST /reset`.

    python -m bench.asr_upstream --port 8002
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
from array import array

import uvloop
from aiohttp import WSMsgType, web

from adapters.base_media import SocketTarget
from adapters.mock_asr import MockAsrSocket, connect_mock_asr

STATS = web.AppKey["array[float]"]("stats")  # frame delays in seconds
_STAMP = struct.Struct("<d")


async def session(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=1024 * 1024)
    await ws.prepare(request)
    mock = connect_mock_asr(SocketTarget("mock:asr", dict(request.headers)))
    delays = request.app[STATS]
    pump = asyncio.ensure_future(_events(mock, ws))
    try:
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                if len(msg.data) >= 8:
                    delays.append(time.monotonic() - _STAMP.unpack_from(msg.data)[0])
                await mock.send(msg.data)
            elif msg.type is WSMsgType.TEXT:
                await mock.send(msg.data)
    finally:
        pump.cancel()
        await mock.close()
    return ws


async def _events(mock: MockAsrSocket, ws: web.WebSocketResponse) -> None:
    while (message := await mock.receive()) is not None:
        if isinstance(message, str):
            await ws.send_str(message)


async def stats(request: web.Request) -> web.Response:
    samples = request.app[STATS]
    delays = sorted(samples)
    if not delays:
        return web.json_response({"frames": 0})

    def millis(quantile: float) -> float:
        return float(delays[min(len(delays) - 1, int(quantile * len(delays)))] * 1000)

    summary = {"frames": len(delays), "p50_ms": millis(0.5), "p99_ms": millis(0.99)}
    return web.json_response({**summary, "max_ms": delays[-1] * 1000})


async def reset(request: web.Request) -> web.Response:
    del request.app[STATS][:]
    return web.json_response({})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asr_upstream")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app[STATS] = array("d")
    app.router.add_get("/asr", session)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_get("/healthz", healthz)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
