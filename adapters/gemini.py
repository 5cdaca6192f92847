"""Google Gemini (Generative Language API) upstream: `generateContent` and
`streamGenerateContent?alt=sse`, keyed by `x-goog-api-key`.

The channel `url` is the API host (`https://generativelanguage.googleapis.com`, `/v1beta`
appended when no version is given); the model is `deploy_name` or the client's. Answers come
back as OpenAI bodies and chunks: text parts → `content`, `thought` parts →
`reasoning_content`, `functionCall` parts → `tool_calls` (whole, one delta each). Usage: the
prompt is `promptTokenCount` (cached tokens included, as `cachedContentTokenCount`) and the
completion counts candidates plus thoughts. Gemini streams end without a terminator, so the
meter writes `[DONE]` at `close()` once a `finishReason` has been seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from adapters.anthropic import load_object
from adapters.base import Channel, ChatResult, UpstreamRequest, Usage
from adapters.chunks import ChunkEmitter, Completion, ToolCall, completion_result, new_call_id
from adapters.errors import UpstreamError, UpstreamRateLimited, UpstreamServerError
from adapters.gemini_request import SIGNATURE_MARK, chat_to_gemini
from adapters.openai import error_from_response, error_message, retry_after_seconds
from adapters.options import client_body, upstream_body, upstream_model, with_extra_headers
from adapters.sse import SSESplitter, event_data

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
CREDENTIAL_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
_DELAY_RE = re.compile(r"^(\d+(?:\.\d+)?)s$")


def generate_url(channel: Channel, model: str, *, stream: bool) -> str:
    base = channel.url.rstrip("/")
    if not re.search(r"/v1(beta\d*|alpha)?$", base):
        base += "/v1beta"
    model = quote(model.removeprefix("models/"), safe="")
    if stream:
        return f"{base}/models/{model}:streamGenerateContent?alt=sse"
    return f"{base}/models/{model}:generateContent"


def gemini_usage(metadata: object) -> Usage | None:
    if not isinstance(metadata, dict):
        return None

    def count(name: str) -> int:
        value = metadata.get(name)
        return value if isinstance(value, int) and value > 0 else 0

    return Usage(
        prompt_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        completion_tokens=count("candidatesTokenCount") + count("thoughtsTokenCount"),
        cached_tokens=count("cachedContentTokenCount"),
    )


def call_of(part: dict[str, Any]) -> ToolCall | None:
    call = part.get("functionCall")
    if not isinstance(call, dict):
        return None
    call_id = str(call.get("id") or new_call_id())
    signature = part.get("thoughtSignature")
    if isinstance(signature, str) and signature:
        call_id += SIGNATURE_MARK + signature
    arguments = orjson.dumps(call.get("args") or {}).decode()
    return ToolCall(call_id, str(call.get("name", "")), arguments)


def finish_reason(reason: object, *, calls: bool) -> str:
    mapped = FINISH_REASONS.get(str(reason), "stop")
    return "tool_calls" if calls and mapped == "stop" else mapped


def gemini_completion(answer: dict[str, Any], model: str) -> Completion:
    candidates = answer.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    content = candidate.get("content") if isinstance(candidate, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        call = call_of(part)
        if call is not None:
            calls.append(call)
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else texts).append(part["text"])
    blocked = not candidates and isinstance(answer.get("promptFeedback"), dict)
    reason = candidate.get("finishReason") if isinstance(candidate, dict) else None
    return Completion(
        id=str(answer.get("responseId") or ""),
        model=str(answer.get("modelVersion") or model),
        content="".join(texts) or None,
        reasoning="".join(thoughts) or None,
        tool_calls=tuple(calls),
        finish_reason="content_filter" if blocked else finish_reason(reason, calls=bool(calls)),
        usage=gemini_usage(answer.get("usageMetadata")),
    )


def gemini_error(status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
    """Gemini's `{"error": {code, message, status, details}}` on our error tree."""
    error = _error_object(data)
    listed = error.get("details")
    details = [d for d in listed if isinstance(d, dict)] if isinstance(listed, list) else []
    reasons = {detail.get("reason") for detail in details}
    if reasons & CREDENTIAL_REASONS:  # a bad key is a 400 INVALID_ARGUMENT at Google
        message = error_message(data)
        return UpstreamServerError(f"The upstream rejected the channel's credentials: {message}")
    if status == 429:
        delay = retry_after_seconds(headers)
        for detail in details:
            found = _DELAY_RE.match(str(detail.get("retryDelay", "")))
            if found is not None:
                delay = float(found.group(1))
        return UpstreamRateLimited(error_message(data), retry_after=delay)
    return error_from_response(status, headers, data)


def _error_object(data: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


class GeminiAdapter:
    """`ChatAdapter` for Gemini's generateContent API."""

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        chat = client_body(channel, body)
        stream = chat.get("stream") is True
        headers = {"Content-Type": "application/json"}
        api_key = channel.credentials.get("api_key")
        if api_key:
            headers["x-goog-api-key"] = api_key
        return UpstreamRequest(
            method="POST",
            url=generate_url(channel, upstream_model(channel, chat), stream=stream),
            headers=with_extra_headers(channel, headers),
            body=orjson.dumps(upstream_body(channel, chat_to_gemini(chat))),
            stream=stream,
        )

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        if not 200 <= status < 300:
            raise gemini_error(status, headers, data)
        return completion_result(gemini_completion(load_object(data), ""))

    def chat_stream(self, body: dict[str, Any]) -> GeminiStreamMeter:
        return GeminiStreamMeter(body)


class GeminiStreamMeter(ChunkEmitter):
    """Gemini's SSE `GenerateContentResponse` events in, OpenAI chunks out."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__(body)
        self._splitter = SSESplitter()
        self._calls = 0

    def feed(self, data: bytes) -> bytes:
        self.raise_pending()
        return self.checked(b"".join([self._event(e) for e in self._splitter.feed(data)]))

    def close(self) -> bytes:
        self.raise_pending()
        out = self._event(self._splitter.flush())
        if self.finish_reason is not None:
            out += self.end()
        return self.checked(out)

    def _event(self, raw: bytes) -> bytes:
        payload = event_data(raw) if raw else None
        if payload is None:
            return b""
        answer = load_object(payload)
        if "error" in answer:
            code = answer["error"].get("code") if isinstance(answer["error"], dict) else None
            self.fail(gemini_error(code if isinstance(code, int) else 500, {}, payload))
            return b""
        self.model = str(answer.get("modelVersion") or self.model)
        self.usage = gemini_usage(answer.get("usageMetadata")) or self.usage
        out = self.open()
        candidates = answer.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            return out + (self.finish("content_filter") if "promptFeedback" in answer else b"")
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            out += self._part(part) if isinstance(part, dict) else b""
        reason = candidate.get("finishReason")
        if reason is not None:
            out += self.finish(finish_reason(reason, calls=self._calls > 0))
        return out

    def _part(self, part: dict[str, Any]) -> bytes:
        call = call_of(part)
        if call is not None:
            self._calls += 1
            return self.tool_start(self._calls, call.id, call.name, call.arguments)
        text = part.get("text")
        if not isinstance(text, str):
            return b""
        return self.reasoning(text) if part.get("thought") is True else self.text(text)
