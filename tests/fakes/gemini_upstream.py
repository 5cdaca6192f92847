"""A fake Gemini API: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, checked and answered as Google does.

Checks: `x-goog-api-key` (a wrong key is Google's 400 INVALID_ARGUMENT with reason
API_KEY_INVALID), `alt=sse` on streams, and the body field by field — known camelCase
fields only, roles `user`/`model`, parts with exactly one data field, `functionResponse`
with a name and an object response, function declarations whose schemas use no keyword
outside Gemini's subset. Streams are `data: {GenerateContentResponse}` events separated by
CRLF blank lines, with usage in the last one and no terminator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.vendor import (
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PIECES,
    PROMPT_TOKENS,
    REASONING,
    BadRequest,
    Call,
    FakeVendor,
    planned_call,
)

API_KEY = "AIzaFake0123456789"
TOP_LEVEL = frozenset(
    {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings"}
)
PART_FIELDS = frozenset({"text", "inlineData", "fileData", "functionCall", "functionResponse"})
CONFIG_FIELDS = frozenset(
    {
        "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount",
        "presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseJsonSchema",
        "thinkingConfig",
    }
)  # fmt: skip
SCHEMA_REFUSED = frozenset({"additionalProperties", "$schema", "strict"})
STATUSES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


@dataclass
class FakeGemini(FakeVendor):
    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [("/v1beta/models/{target}", self._generate)]

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["target"].partition(":")
        if action not in ("generateContent", "streamGenerateContent"):
            return error(404, f"Method {action!r} not found.")
        if request.headers.get("x-goog-api-key") != API_KEY:
            details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]  # fmt: skip
            return error(400, "API key not valid. Please pass a valid API key.", details)
        stream = action == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            return error(400, "This fake only speaks alt=sse.")
        body = orjson.loads(await request.read())
        self.record(request, body)
        try:
            check_body(body)
        except BadRequest as exc:
            return error(400, str(exc))
        if self.fail_with is not None:
            return self._failure()
        call = planned_call(_tools(body), _last_is_result(body))
        thoughts = (body.get("generationConfig") or {}).get("thinkingConfig", {})
        answers = responses(model, call, thoughts.get("includeThoughts") is True)
        if not stream:
            return web.json_response(merged(answers), dumps=_dumps)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for answer in answers:
            await response.write(b"data: " + orjson.dumps(answer) + b"\r\n\r\n")
        return response

    def _failure(self) -> web.Response:
        assert self.fail_with is not None
        details = []
        if self.fail_with == 429 and self.retry_after:
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{self.retry_after}s"}]  # fmt: skip
        return error(self.fail_with, f"fake failure {self.fail_with}", details)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error(status: int, text: str, details: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "message": text, "status": STATUSES.get(status, "")}
    if details:
        body["details"] = details
    return web.json_response({"error": body}, status=status, dumps=_dumps)


def check_body(body: dict[str, Any]) -> None:
    for name in set(body) - TOP_LEVEL:
        raise BadRequest(f'Invalid JSON payload received. Unknown name "{name}"')
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    for content in contents:
        if content.get("role") not in ("user", "model"):
            raise BadRequest("Please use a valid role: user, model.")
        _check_parts(content.get("parts"))
    system = body.get("systemInstruction")
    if system is not None:
        _check_parts(system.get("parts"))
    for name in set(body.get("generationConfig") or {}) - CONFIG_FIELDS:
        raise BadRequest(f"Unknown name \"{name}\" at 'generation_config'")
    for tool in body.get("tools") or ():
        for declaration in tool.get("functionDeclarations") or ():
            if not declaration.get("name"):
                raise BadRequest("function_declarations[0].name: name is required")
            _check_schema(declaration.get("parameters") or {})


def _check_parts(parts: object) -> None:
    if not isinstance(parts, list) or not parts:
        raise BadRequest("contents.parts must not be empty.")
    for part in parts:
        fields = set(part) & PART_FIELDS
        if len(fields) != 1 or set(part) - PART_FIELDS - {"thought", "thoughtSignature"}:
            raise BadRequest(f"A part must hold exactly one kind of data: {sorted(part)}")
        response = part.get("functionResponse")
        if response is not None and (
            not response.get("name") or not isinstance(response.get("response"), dict)
        ):
            raise BadRequest("function_response: name and an object response are required")
        media = part.get("inlineData") or part.get("fileData")
        if media is not None and not media.get("mimeType"):
            raise BadRequest("mime_type is required")


def _check_schema(schema: object) -> None:
    if isinstance(schema, list):
        for item in schema:
            _check_schema(item)
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in SCHEMA_REFUSED:
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}" at parameters')
        if key == "type" and not isinstance(value, str):
            raise BadRequest("parameters.type: a single type name is required")
        if key == "properties":
            for item in value.values():
                _check_schema(item)
        else:
            _check_schema(value)


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    mode = (body.get("toolConfig") or {}).get("functionCallingConfig", {}).get("mode")
    if mode == "NONE":
        return []
    return [
        {"name": d["name"], "schema": d.get("parameters")}
        for tool in body.get("tools") or ()
        for d in tool.get("functionDeclarations") or ()
    ]


def _last_is_result(body: dict[str, Any]) -> bool:
    return any("functionResponse" in part for part in body["contents"][-1]["parts"])


def _usage() -> dict[str, int]:
    return {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": COMPLETION_TOKENS - 2,
        "thoughtsTokenCount": 2,
        "cachedContentTokenCount": CACHED_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def responses(model: str, call: Call | None, thoughts: bool) -> list[dict[str, Any]]:
    """The stream's responses; a non-stream answer is them merged."""
    parts: list[dict[str, Any]] = [{"text": REASONING, "thought": True}] if thoughts else []
    if call is None:
        parts += [{"text": piece} for piece in PIECES]
    else:
        function = {"name": call.name, "args": call.arguments}
        parts.append({"functionCall": function, "thoughtSignature": "c2lnbmF0dXJl"})
    answers = []
    for position, part in enumerate(parts):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        answer: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
        answer["responseId"] = "resp-fake"
        if position == len(parts) - 1:
            candidate["finishReason"] = "STOP"
            answer["usageMetadata"] = _usage()
        answers.append(answer)
    return answers


def merged(answers: list[dict[str, Any]]) -> dict[str, Any]:
    parts = [p for a in answers for p in a["candidates"][0]["content"]["parts"]]
    last = answers[-1]
    candidate = {**last["candidates"][0], "content": {"role": "model", "parts": parts}}
    return {**last, "candidates": [candidate]}
