"""The bench's yardstick: the least an aiohttp proxy can do, with one shared ClientSession.

python -m bench.bare_proxy --port 8002 --upstream http://127.0.0.1:8001
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
FORWARDED = ("Content-Type", "Authorization")


async def relay(request: web.Request) -> web.StreamResponse:
    headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
    url = request.app[UPSTREAM] + request.path
    async with request.app[SESSION].post(url, data=await request.read(), headers=headers) as up:
        if up.content_type != "text/event-stream":
            body = await up.read()
            return web.Response(body=body, status=up.status, content_type=up.content_type)
        response = web.StreamResponse(status=up.status, headers={"Content-Type": up.content_type})
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(upstream: str) -> web.Application:
    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)) as session:
            app[SESSION] = session
            yield

    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", relay)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:8001")
    args = parser.parse_args(argv)
    app = create_app(args.upstream)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
