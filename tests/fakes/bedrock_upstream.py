"""A fake Bedrock Runtime: `POST /model/{modelId}/converse` and `/converse-stream`.

Checks as AWS would: a SigV4 signature for the `bedrock` service (verified independently by
`sigv4.verify`, session token included) or a Bedrock API key as a bearer token, then the
Converse body field by field — known fields only, roles alternating from `user`, one kind of
content per block, no blank text, image formats, `toolResult` ids answering an earlier
`toolUse`, and a `toolConfig` whenever tool blocks appear. Errors carry `x-amzn-ErrorType`.
Streams are AWS binary event-stream frames (`:event-type`, `:content-type`,
`:message-type` headers, JSON payloads padded with `p` as AWS pads them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from adapters.eventstream import encode_message
from tests.fakes.sigv4 import SignatureError, verify
from tests.fakes.vendor import (
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PIECES,
    PROMPT_TOKENS,
    BadRequest,
    Call,
    FakeVendor,
    planned_call,
)

ACCESS_KEY = "AKIAFAKE0123456789"
SECRET_KEY = "fake/secret/key/0123456789"
API_KEY = "ABSKfakebedrockapikey0123"
TOP_LEVEL = frozenset(
    {"messages", "system", "inferenceConfig", "toolConfig", "additionalModelRequestFields"}
)
BLOCK_KINDS = frozenset({"text", "image", "document", "toolUse", "toolResult", "reasoningContent"})
ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    408: "ModelTimeoutException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


@dataclass
class FakeBedrock(FakeVendor):
    exception_after: str | None = None  # send this exception after the first delta
    signers: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [
            ("/model/{model}/converse", self._converse),
            ("/model/{model}/converse-stream", self._converse),
        ]

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        try:
            self.signers.append(self._authenticate(request, data))
        except SignatureError as exc:
            kind = (
                "InvalidSignatureException"
                if "signature" in str(exc)
                else "UnrecognizedClientException"
            )
            return error(403, str(exc), kind)
        body = orjson.loads(data)
        self.record(request, body)
        try:
            check_body(body)
        except BadRequest as exc:
            return error(400, str(exc))
        if self.fail_with is not None:
            return error(self.fail_with, f"fake failure {self.fail_with}")
        call = planned_call(_tools(body), _last_is_result(body))
        if not request.path.endswith("/converse-stream"):
            return web.json_response(converse_answer(call), dumps=_dumps)
        response = web.StreamResponse(
            headers={"Content-Type": "application/vnd.amazon.eventstream"}
        )
        await response.prepare(request)
        for position, frame in enumerate(stream_frames(call)):
            if self.exception_after is not None and position == 3:
                payload = orjson.dumps({"message": "Too many requests, please wait."})
                frame = encode_message(
                    {":exception-type": self.exception_after, ":content-type": "application/json",
                     ":message-type": "exception"}, payload)  # fmt: skip
                await response.write(frame)
                return response
            await response.write(frame)
        return response

    def _authenticate(self, request: web.Request, data: bytes) -> str:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            if authorization != f"Bearer {API_KEY}":
                raise SignatureError("Invalid API key.")
            return "api-key"
        signer = verify(
            method=request.method,
            raw_path=request.raw_path.split("?", 1)[0],
            query=request.query_string,
            headers=request.headers,
            body=data,
            secrets={ACCESS_KEY: SECRET_KEY},
            service="bedrock",
        )
        if request.headers.get("X-Amz-Security-Token") not in (None, "session-fake"):
            raise SignatureError("The security token included in the request is invalid.")
        return signer


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error(status: int, text: str, kind: str | None = None) -> web.Response:
    kind = kind or ERROR_TYPES.get(status, "InternalServerException")
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return web.json_response({"message": text}, status=status, headers=headers, dumps=_dumps)


def check_body(body: dict[str, Any]) -> None:
    for name in set(body) - TOP_LEVEL:
        raise BadRequest(f"Malformed input request: extraneous key [{name}] is not permitted")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("The messages field is required.")
    expected, uses, tool_blocks = "user", set[str](), False
    for turn in messages:
        if turn.get("role") != expected:
            raise BadRequest("A conversation must alternate between user and assistant roles.")
        expected = "assistant" if expected == "user" else "user"
        for block in turn.get("content") or [None]:
            tool_blocks |= _check_block(block, uses)
    if tool_blocks and not body.get("toolConfig"):
        raise BadRequest("The toolConfig field must be defined when using toolUse and toolResult.")
    for tool in (body.get("toolConfig") or {}).get("tools") or ():
        spec = tool.get("toolSpec") or {}
        if not spec.get("name") or not isinstance(
            (spec.get("inputSchema") or {}).get("json"), dict
        ):
            raise BadRequest("toolSpec: name and inputSchema.json are required")


def _check_block(block: object, uses: set[str]) -> bool:
    if not isinstance(block, dict) or len(block) != 1 or not set(block) <= BLOCK_KINDS:
        raise BadRequest(f"A content block must hold exactly one member: {block!r}")
    if "text" in block and not str(block["text"]).strip():
        raise BadRequest("The text field in the ContentBlock object is blank.")
    if "image" in block and block["image"].get("format") not in ("png", "jpeg", "gif", "webp"):
        raise BadRequest("image.format: png, jpeg, gif or webp")
    if "toolUse" in block:
        uses.add(block["toolUse"]["toolUseId"])
    if "toolResult" in block and block["toolResult"].get("toolUseId") not in uses:
        raise BadRequest("toolResult blocks must answer a toolUse block of the previous turn.")
    return "toolUse" in block or "toolResult" in block


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = (body.get("toolConfig") or {}).get("tools") or ()
    return [
        {"name": t["toolSpec"]["name"], "schema": t["toolSpec"]["inputSchema"]["json"]}
        for t in tools
    ]


def _last_is_result(body: dict[str, Any]) -> bool:
    return any("toolResult" in block for block in body["messages"][-1]["content"])


def _usage() -> dict[str, int]:
    return {
        "inputTokens": PROMPT_TOKENS - CACHED_TOKENS,
        "outputTokens": COMPLETION_TOKENS,
        "totalTokens": PROMPT_TOKENS + COMPLETION_TOKENS - CACHED_TOKENS,
        "cacheReadInputTokens": CACHED_TOKENS,
        "cacheWriteInputTokens": 0,
    }


def converse_answer(call: Call | None) -> dict[str, Any]:
    if call is None:
        content: list[dict[str, Any]] = [{"text": "".join(PIECES)}]
    else:
        use = {"toolUseId": "tooluse_fake01", "name": call.name, "input": call.arguments}
        content = [{"toolUse": use}]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "end_turn" if call is None else "tool_use",
        "usage": _usage(),
        "metrics": {"latencyMs": 42},
    }


def frame(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, orjson.dumps({**payload, "p": "abcdefghijklmnopqrs"}))


def stream_frames(call: Call | None) -> list[bytes]:
    frames = [frame("messageStart", {"role": "assistant"})]
    if call is None:
        for piece in PIECES:
            frames.append(frame("contentBlockDelta", {"contentBlockIndex": 0,
                                                      "delta": {"text": piece}}))  # fmt: skip
    else:
        start = {"toolUse": {"toolUseId": "tooluse_fake01", "name": call.name}}
        frames.append(frame("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
        arguments = orjson.dumps(call.arguments).decode()
        for half in (arguments[:5], arguments[5:]):
            delta = {"toolUse": {"input": half}}
            frames.append(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}))
    frames.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(frame("messageStop", {"stopReason": "end_turn" if call is None else "tool_use"}))
    return [*frames, frame("metadata", {"usage": _usage(), "metrics": {"latencyMs": 42}})]
