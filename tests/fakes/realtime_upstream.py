"""A fake OpenAI Realtime upstream: a real aiohttp WebSocket server on loopback.

`/v1/realtime?model=…` is a conversation: `session.created` on connect; `response.create`
is answered with `response.created`, a text delta and `response.done` carrying usage;
`test.close` makes the server close with code 4000 ("bye").

`/v1/realtime?intent=transcription` is a transcription session with a crude server VAD:
`transcription_session.update` → `…updated`; audio starts a sentence; every 500 ms of audio
(24 kHz pcm16) ends one: speech_stopped, committed, two deltas, completed. A commit
completes the sentence in progress, or errs `input_audio_buffer_commit_empty`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_upstream import API_KEY

SENTENCE_BYTES = 24000 * 2 // 2  # 500 ms of 24 kHz pcm16
USAGE = {
    "total_tokens": 30,
    "input_tokens": 10,
    "output_tokens": 20,
    "input_token_details": {"cached_tokens": 4, "text_tokens": 10, "audio_tokens": 0},
}


@dataclass
class FakeRealtime(LoopbackServer):
    base_path: ClassVar[str] = "/v1"

    refuse_update: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    audio_bytes: int = 0
    open_sockets: int = 0
    closed_by_client: int = 0
    server: TestServer | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/realtime", self._socket)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            raise web.HTTPUnauthorized()
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.open_sockets += 1
        try:
            if request.query.get("intent") == "transcription":
                await Transcriber(self, ws).run()
            else:
                await self._conversation(ws)
        finally:
            self.open_sockets -= 1
        return ws

    async def _conversation(self, ws: web.WebSocketResponse) -> None:
        await send(ws, {"type": "session.created", "session": {"id": "sess_fake"}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            event = orjson.loads(msg.data)
            self.received.append(event)
            if event.get("type") == "test.close":
                await ws.close(code=4000, message=b"bye")
                return
            if event.get("type") == "response.create":
                await send(ws, {"type": "response.created", "response": {"id": "resp_1"}})
                await send(ws, {"type": "response.output_text.delta", "delta": "hi"})
                done = {"id": "resp_1", "status": "completed", "usage": USAGE}
                await send(ws, {"type": "response.done", "response": done})
        self.closed_by_client += 1


class Transcriber:
    def __init__(self, fake: FakeRealtime, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.ws = ws
        self.items = 0
        self.speaking = 0  # bytes of the sentence in progress

    async def run(self) -> None:
        await send(self.ws, {"type": "transcription_session.created", "session": {"id": "s1"}})
        async for msg in self.ws:
            if msg.type is WSMsgType.TEXT:
                await self.on(orjson.loads(msg.data))
        self.fake.closed_by_client += 1

    async def on(self, event: dict[str, Any]) -> None:
        self.fake.received.append({k: v for k, v in event.items() if k != "audio"})
        kind = event.get("type")
        if kind == "transcription_session.update":
            if self.fake.refuse_update:
                error = {"type": "invalid_request_error", "message": "bad session"}
                await send(self.ws, {"type": "error", "error": error})
                return
            await send(self.ws, {"type": "transcription_session.updated", "session": {"id": "s1"}})
        elif kind == "input_audio_buffer.append":
            await self.audio(len(base64.b64decode(event["audio"])))
        elif kind == "input_audio_buffer.commit":
            if self.speaking:
                await self.sentence()
            else:
                error = {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty"}
                await send(self.ws, {"type": "error", "error": {**error, "message": "empty"}})

    async def audio(self, size: int) -> None:
        self.fake.audio_bytes += size
        if not self.speaking:
            self.items += 1
            start = {"audio_start_ms": 0, "item_id": f"item_{self.items}"}
            await send(self.ws, {"type": "input_audio_buffer.speech_started", **start})
        self.speaking += size
        if self.speaking >= SENTENCE_BYTES:
            await self.sentence()

    async def sentence(self) -> None:
        item = f"item_{self.items}"
        self.speaking = 0
        await send(
            self.ws,
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 500, "item_id": item},
        )
        await send(self.ws, {"type": "input_audio_buffer.committed", "item_id": item})
        for delta in ("hello ", "world"):
            kind = "conversation.item.input_audio_transcription.delta"
            await send(self.ws, {"type": kind, "item_id": item, "delta": delta})
        kind = "conversation.item.input_audio_transcription.completed"
        await send(self.ws, {"type": kind, "item_id": item, "transcript": "hello world"})


async def send(ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(event).decode())
