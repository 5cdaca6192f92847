"""AWS Bedrock Runtime upstream: Converse and ConverseStream, signed with SigV4.

The channel `url` is the runtime endpoint (`https://bedrock-runtime.us-east-1.amazonaws.com`)
and `deploy_name` the model or inference-profile id. Credentials are either a Bedrock API key
(`api_key`, sent as a bearer token) or IAM keys (`access_key_id`, `secret_access_key`,
optional `session_token`), which are signed with botocore's `SigV4Auth`: the optional
`bedrock` extra. The region comes from `options.region`, `credentials.region` or the host.

Signing is the last step of `chat_request` (the time it reads is the only input besides the
request), so every header sent is signed. The URL is percent-encoded as boto3 sends it (the
`:` of a model id as `%3A`) and must go out byte for byte: with aiohttp that is
`yarl.URL(url, encoded=True)`, since yarl would otherwise decode `%3A` and the path AWS
receives would no longer be the one signed. ConverseStream answers in AWS's binary event
stream, decoded by `eventstream` and turned into OpenAI chunks; `[DONE]` follows the
`metadata` event that carries the usage (or `close()`, when the stream ends after
`messageStop` without one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from adapters.anthropic import load_object
from adapters.base import Channel, ChatResult, UpstreamRequest, Usage
from adapters.bedrock_request import chat_to_converse
from adapters.chunks import ChunkEmitter, Completion, ToolCall, completion_result
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from adapters.eventstream import EventMessage, EventStreamDecoder
from adapters.openai import error_from_response, error_message, redact, retry_after_seconds
from adapters.options import client_body, upstream_body, upstream_model, with_extra_headers

SERVICE = "bedrock"
DEFAULT_REGION = "us-east-1"
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
RATE_LIMITS = frozenset({"throttling", "servicequotaexceeded", "modelnotready", "toomanyrequests"})
CREDENTIALS = frozenset(
    {"accessdenied", "unrecognizedclient", "expiredtoken", "invalidsignature", "missingauth"}
)
CLIENT_FAULTS = frozenset({"validation", "resourcenotfound"})
SERVER_FAULTS = frozenset(
    {"modelerror", "modelstreamerror", "internalserver", "serviceunavailable"}
)
_REGION_RE = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")


def region_of(channel: Channel) -> str:
    region = channel.options.get("region") or channel.credentials.get("region")
    if region:
        return str(region)
    match = _REGION_RE.search(urlsplit(channel.url).netloc)
    return match.group(1) if match else DEFAULT_REGION


def converse_url(channel: Channel, model: str, *, stream: bool) -> str:
    action = "converse-stream" if stream else "converse"
    return f"{channel.url.rstrip('/')}/model/{quote(model, safe='')}/{action}"


def sign(channel: Channel, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
    """Add the channel's authorization to `headers` (bearer API key, or SigV4)."""
    credentials = channel.credentials
    if credentials.get("api_key"):
        headers["Authorization"] = f"Bearer {credentials['api_key']}"
        return
    access_key = credentials.get("access_key_id")
    secret_key = credentials.get("secret_access_key")
    if not access_key or not secret_key:
        raise UpstreamServerError(f"Channel {channel.code} has no Bedrock credentials.")
    try:
        from botocore.auth import SigV4Auth  # the optional `bedrock` extra
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError as exc:
        raise UpstreamServerError(
            "Signing Bedrock requests needs botocore: install bella-gateway[bedrock]."
        ) from exc
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    keys = Credentials(access_key, secret_key, credentials.get("session_token") or None)
    SigV4Auth(keys, SERVICE, region_of(channel)).add_auth(request)
    headers.update({str(name): str(value) for name, value in request.headers.items()})


def bedrock_usage(usage: object) -> Usage | None:
    if not isinstance(usage, dict):
        return None

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and value > 0 else 0

    cache_read = count("cacheReadInputTokens")
    prompt = count("inputTokens") + cache_read + count("cacheWriteInputTokens")
    return Usage(prompt, count("outputTokens"), cache_read)


def converse_completion(answer: dict[str, Any], model: str) -> Completion:
    output = answer.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    texts, thoughts, calls = [], [], []
    for block in message.get("content") or () if isinstance(message, dict) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(use := block.get("toolUse"), dict):
            arguments = orjson.dumps(use.get("input") or {}).decode()
            calls.append(ToolCall(str(use.get("toolUseId")), str(use.get("name")), arguments))
        elif isinstance(reasoning := block.get("reasoningContent"), dict):
            text = (reasoning.get("reasoningText") or {}).get("text")
            thoughts.append(text if isinstance(text, str) else "")
    return Completion(
        model=model,
        content="".join(texts) or None,
        reasoning="".join(thoughts) or None,
        tool_calls=tuple(calls),
        finish_reason=STOP_REASONS.get(str(answer.get("stopReason")), "stop"),
        usage=bedrock_usage(answer.get("usage")),
    )


def error_kind(name: object) -> str:
    """`ThrottlingException:http://…` or `throttlingException` → `throttling`."""
    text = str(name or "").split(":", 1)[0].split("#")[-1].lower()
    return text.removesuffix("exception")


def bedrock_error(status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
    kind = error_kind(_header(headers, "x-amzn-errortype") or _type_in(data))
    message = error_message(data) or f"The upstream answered HTTP {status}."
    return error_for_kind(kind, message, status=status, headers=headers)


def error_for_kind(
    kind: str, message: str, *, status: int = 500, headers: Mapping[str, str] | None = None
) -> UpstreamError:
    if kind in RATE_LIMITS:
        return UpstreamRateLimited(message, retry_after=retry_after_seconds(headers or {}))
    if kind in CREDENTIALS:
        return UpstreamServerError(f"The upstream rejected the channel's credentials: {message}")
    if kind == "modeltimeout":
        return UpstreamTimeout(message)
    if kind in CLIENT_FAULTS:
        return UpstreamBadRequest(message, status=400)
    if kind in SERVER_FAULTS:
        return UpstreamServerError(message)
    if status < 400:
        status = 500
    return error_from_response(status, headers or {}, orjson.dumps({"message": message}))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _type_in(data: bytes) -> str:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    return str(parsed.get("__type", "")) if isinstance(parsed, dict) else ""


class BedrockAdapter:
    """`ChatAdapter` for the Bedrock Converse API."""

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        chat = client_body(channel, body)
        stream = chat.get("stream") is True
        url = converse_url(channel, upstream_model(channel, chat), stream=stream)
        payload = orjson.dumps(upstream_body(channel, chat_to_converse(chat)))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if stream:
            headers["Accept"] = "application/vnd.amazon.eventstream"
        headers = with_extra_headers(channel, headers)
        sign(channel, "POST", url, headers, payload)
        return UpstreamRequest("POST", url, headers, payload, stream=stream)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        if not 200 <= status < 300:
            raise bedrock_error(status, headers, data)
        return completion_result(converse_completion(load_object(data), ""))

    def chat_stream(self, body: dict[str, Any]) -> BedrockStreamMeter:
        return BedrockStreamMeter(body)


class BedrockStreamMeter(ChunkEmitter):
    """ConverseStream's binary event stream in, OpenAI chunks out."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__(body)
        self._decoder = EventStreamDecoder()
        self._stopped = False

    def feed(self, data: bytes) -> bytes:
        self.raise_pending()
        return self.checked(b"".join([self._message(m) for m in self._decoder.feed(data)]))

    def close(self) -> bytes:
        self.raise_pending()
        return self.end() if self._stopped else b""

    def _message(self, message: EventMessage) -> bytes:
        kind = message.headers.get(":message-type")
        if kind == "exception":
            name = error_kind(message.headers.get(":exception-type"))
            self.fail(error_for_kind(name, redact(error_message(message.payload))))
            return b""
        if kind == "error":
            text = str(message.headers.get(":error-message") or "The upstream stream failed.")
            self.fail(UpstreamServerError(redact(text)[:300]))
            return b""
        event = load_object(message.payload) if message.payload else {}
        return self._event(str(message.headers.get(":event-type")), event)

    def _event(self, kind: str, event: dict[str, Any]) -> bytes:
        match kind:
            case "messageStart":
                return self.open()
            case "contentBlockStart":
                start = event.get("start")
                use = start.get("toolUse") if isinstance(start, dict) else None
                if isinstance(use, dict):
                    key = _block_key(event.get("contentBlockIndex"))
                    return self.tool_start(key, str(use.get("toolUseId")), str(use.get("name")))
            case "contentBlockDelta":
                return self._delta(event.get("contentBlockIndex"), event.get("delta"))
            case "messageStop":
                self._stopped = True
                return self.finish(STOP_REASONS.get(str(event.get("stopReason")), "stop"))
            case "metadata":
                self.usage = bedrock_usage(event.get("usage")) or self.usage
                return self.end() if self._stopped else b""
        return b""

    def _delta(self, key: object, delta: object) -> bytes:
        if not isinstance(delta, dict):
            return b""
        if isinstance(delta.get("text"), str):
            return self.text(delta["text"])
        use = delta.get("toolUse")
        if isinstance(use, dict):
            return self.tool_arguments(_block_key(key), str(use.get("input") or ""))
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            return self.reasoning(reasoning["text"])
        return b""


def _block_key(index: object) -> int:
    return index if isinstance(index, int) else -1
