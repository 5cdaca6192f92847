"""A fake OpenAI upstream for the media endpoints: a real aiohttp server on loopback.

It speaks OpenAI's formats for `/embeddings`, `/audio/speech`, `/audio/transcriptions`,
`/images/generations` and `/images/edits`, checks the bearer key, and records what it got.
`speech_gate`: when set, the speech answer sends its head, then waits for the gate before
its tail, so a test can see the head arrive while the upstream has not finished.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer

from adapters.audio import probe_duration, sniff
from adapters.mock_audio import transcribe
from adapters.mock_images import png
from adapters.transcript import CONTENT_TYPES, render
from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_upstream import API_KEY

SPEECH_HEAD = b"ID3\x04" + b"\x00" * 1020
SPEECH_TAIL = b"\xff\xfb" + b"\x01" * 4094


@dataclass
class FakeMedia(LoopbackServer):
    base_path: ClassVar[str] = "/v1"
    client_max_size: ClassVar[int] = 64 * 1024 * 1024

    fail_with: int | None = None
    speech_gate: asyncio.Event | None = None
    speech_finished: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/images/generations", self._generations)
        app.router.add_post("/v1/images/edits", self._edits)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return error(401, "Incorrect API key provided.")
        if self.fail_with is not None:
            return error(self.fail_with, f"fake failure {self.fail_with}")
        return None

    async def _embeddings(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = orjson.loads(await request.read())
        self.requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = body.get("dimensions") or 8
        vector = [0.5] * dims
        raw = base64.b64encode(b"\x00\x00\x00\x3f" * dims).decode()
        embedding = raw if body.get("encoding_format") == "base64" else vector
        data = [
            {"object": "embedding", "index": i, "embedding": embedding} for i in range(len(texts))
        ]
        usage = {"prompt_tokens": 3 * len(texts), "total_tokens": 3 * len(texts)}
        answer = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return web.json_response(answer, dumps=lambda o: orjson.dumps(o).decode())

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = orjson.loads(await request.read())
        self.requests.append(body)
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        await response.write(SPEECH_HEAD)
        if self.speech_gate is not None:
            await self.speech_gate.wait()
        await response.write(SPEECH_TAIL)
        self.speech_finished = True
        await response.write_eof()
        return response

    async def _form(self, request: web.Request) -> dict[str, Any]:
        form: dict[str, Any] = {"files": {}, "fields": []}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            data = bytes(await part.read())
            if part.filename:
                form["files"][part.name] = (part.filename, data)
            else:
                form["fields"].append((part.name, data.decode()))
        form["content_length"] = request.content_length
        self.uploads.append(form)
        return form

    async def _transcriptions(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        form = await self._form(request)
        fields = dict(form["fields"])
        _, audio = form["files"]["file"]
        if sniff(audio[:4096]) is None:
            return error(400, "Invalid file format. Supported formats: [wav, mp3]")
        duration = probe_duration(audio[:4096], len(audio)) or 1.0
        fmt = fields.get("response_format", "json")
        data = render(transcribe(duration, "fake upstream words"), fmt, duration=duration)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPES[fmt]})

    def _images(self, prompt: str, n: int) -> web.Response:
        image = base64.b64encode(png(8, 8, b"\x10\x20\x30\x40\x50\x60")).decode()
        data = [{"b64_json": image, "revised_prompt": prompt} for _ in range(n)]
        return web.json_response({"created": 1, "data": data})

    async def _generations(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = orjson.loads(await request.read())
        self.requests.append(body)
        return self._images(body["prompt"], int(body.get("n") or 1))

    async def _edits(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        fields = dict((await self._form(request))["fields"])
        return self._images(fields["prompt"], int(fields.get("n") or 1))


def error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
