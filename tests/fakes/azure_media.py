"""The fake Azure OpenAI resource's media deployments, beside `FakeAzure`'s chat.

`POST /openai/deployments/{name}/{embeddings | audio/speech | audio/transcriptions |
images/generations | images/edits}?api-version=…` (and the same under `/openai/v1/`, the
deployment then named by `model`). The key and the version are checked as for chat
(`refused`); each deployment serves one kind of operation, as on Azure, so asking the
embeddings deployment to speak is Azure's 400 `OperationNotSupported`, an unknown one its 404
`DeploymentNotFound`. Forms are read as multipart and checked for their required parts.
Image answers carry Azure's content-filter annotations on each item.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from adapters.audio import probe_duration, sniff
from adapters.mock_audio import transcribe
from adapters.mock_images import png
from adapters.transcript import CONTENT_TYPES, render
from tests.fakes.azure_upstream import DEPLOYMENT, FILTERS, FakeAzure, refused
from tests.fakes.compatible import json_response
from tests.fakes.openai_media import SPEECH_HEAD, SPEECH_TAIL

EMBEDDING_DEPLOYMENT = "embed-deploy"
TTS_DEPLOYMENT = "tts-deploy"
WHISPER_DEPLOYMENT = "whisper-deploy"
IMAGE_DEPLOYMENT = "dalle-deploy"
OPERATIONS = {
    DEPLOYMENT: "chat",
    EMBEDDING_DEPLOYMENT: "embeddings",
    TTS_DEPLOYMENT: "speech",
    WHISPER_DEPLOYMENT: "transcriptions",
    IMAGE_DEPLOYMENT: "images",
}
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac",
                "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}  # fmt: skip
PROMPT_FILTERS = {**FILTERS, "jailbreak": {"filtered": False, "detected": False}}

Handler = Callable[[web.Request], Any]


@dataclass
class FakeAzureMedia(FakeAzure):
    def routes(self) -> list[tuple[str, Handler]]:
        media: list[tuple[str, Handler]] = [
            ("embeddings", self._embeddings),
            ("audio/speech", self._speech),
            ("audio/transcriptions", self._transcriptions),
            ("images/generations", self._generations),
            ("images/edits", self._edits),
        ]
        prefixes = ("/openai/deployments/{deployment}/", "/openai/v1/")
        return [*super().routes(), *((p + path, h) for p in prefixes for path, h in media)]

    def _unserved(self, request: web.Request, model: object, operation: str) -> web.Response | None:
        """Azure's answer when the deployment cannot serve `operation`, or the scripted failure."""
        name = request.match_info.get("deployment") or model
        served = OPERATIONS.get(name) if isinstance(name, str) else None
        if served is None:
            message = "The API deployment for this resource does not exist."
            return azure_error(404, "DeploymentNotFound", message)
        if served != operation:
            message = (
                f"The {operation} operation does not work with the specified model, {name}. "
                "Please choose different model and try again."
            )
            return azure_error(400, "OperationNotSupported", message)
        if self.fail_with is not None:
            headers = {"retry-after-ms": "1500"} if self.fail_with == 429 else {}
            return azure_error(self.fail_with, str(self.fail_with), "fake failure", **headers)
        return None

    async def _json(self, request: web.Request, operation: str) -> dict[str, Any] | web.Response:
        refusal = refused(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        self.record(request, body)
        unserved = self._unserved(request, body.get("model"), operation)
        return body if unserved is None else unserved

    async def _form(self, request: web.Request, operation: str) -> dict[str, Any] | web.Response:
        refusal = refused(request)
        if refusal is not None:
            return refusal
        if request.content_type != "multipart/form-data":
            return azure_error(400, "invalid_request_error", "Expected multipart/form-data.")
        form: dict[str, Any] = {"fields": {}, "files": {}}
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            data = bytes(await part.read())
            if part.filename:
                form["files"][part.name] = (part.filename, data)
            else:
                form["fields"][part.name] = data.decode()
        self.record(request, form)
        unserved = self._unserved(request, form["fields"].get("model"), operation)
        return form if unserved is None else unserved

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._json(request, "embeddings")
        if isinstance(body, web.Response):
            return body
        texts = body.get("input")
        texts = texts if isinstance(texts, list) else [texts]
        if not texts or not all(isinstance(t, str) and t for t in texts):
            return azure_error(400, "invalid_request_error", "'input' is a required property")
        dims = int(body.get("dimensions") or 8)
        vector: list[float] | str = [0.5] * dims
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(b"\x00\x00\x00\x3f" * dims).decode()
        data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(texts))]
        usage = {"prompt_tokens": 3 * len(texts), "total_tokens": 3 * len(texts)}
        return json_response(
            {"object": "list", "data": data, "model": "text-embedding-3-small", "usage": usage}
        )

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request, "speech")
        if isinstance(body, web.Response):
            return body
        content_type = SPEECH_TYPES.get(body.get("response_format") or "mp3")
        if not body.get("input") or not body.get("voice") or content_type is None:
            return azure_error(400, "invalid_request_error", "'input' and 'voice' are required")
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        await response.write(SPEECH_HEAD)
        await response.write(SPEECH_TAIL)
        await response.write_eof()
        return response

    async def _transcriptions(self, request: web.Request) -> web.Response:
        form = await self._form(request, "transcriptions")
        if isinstance(form, web.Response):
            return form
        if "file" not in form["files"]:
            return azure_error(400, "invalid_request_error", "'file' is a required property")
        _, audio = form["files"]["file"]
        if sniff(audio[:4096]) is None:
            return azure_error(400, "invalid_request_error", "Invalid file format.")
        duration = probe_duration(audio[:4096], len(audio)) or 1.0
        fmt = form["fields"].get("response_format", "json")
        data = render(transcribe(duration, "fake azure words"), fmt, duration=duration)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPES[fmt]})

    async def _generations(self, request: web.Request) -> web.Response:
        body = await self._json(request, "images")
        if isinstance(body, web.Response):
            return body
        return images(body)

    async def _edits(self, request: web.Request) -> web.Response:
        form = await self._form(request, "images")
        if isinstance(form, web.Response):
            return form
        if not {"image", "image[]"} & set(form["files"]):
            return azure_error(400, "invalid_request_error", "'image' is a required property")
        return images(form["fields"])


def images(body: dict[str, Any]) -> web.Response:
    """Azure's images answer: `n` items of `b64_json` (or a blob URL), with filter results."""
    if not body.get("prompt"):
        return azure_error(400, "invalid_request_error", "'prompt' is a required property")
    if body.get("response_format") == "url":
        item: dict[str, Any] = {"url": "https://dalleprodsec.blob.core.windows.net/private/1.png"}
    else:
        item = {"b64_json": base64.b64encode(png(8, 8, b"\x10\x20\x30\x40\x50\x60")).decode()}
    item.update(
        revised_prompt=body["prompt"],
        content_filter_results=FILTERS,
        prompt_filter_results=PROMPT_FILTERS,
    )
    return json_response({"created": 1, "data": [item] * int(body.get("n") or 1)})


def azure_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status, **headers)
