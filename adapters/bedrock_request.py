"""Chat requests as AWS Bedrock Converse bodies.

Roles: system/developer → `system` text blocks; user → `user`; assistant → `assistant` with
`toolUse` blocks for its tool calls; tool results → `toolResult` blocks in a `user` turn.
Bedrock wants the roles alternating, so consecutive turns of one role are merged, and it
refuses blank text, which is left out. Images and PDFs must travel as bytes: data URLs are
accepted, web URLs are a client error.
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters.chunks import arguments_object
from adapters.errors import UpstreamBadRequest
from adapters.fc_prompt import content_text
from adapters.messages import THINKING_BUDGETS
from adapters.messages_blocks import parse_data_url
from adapters.options import token_limit
from adapters.turns import append_turn

IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})


def chat_to_converse(body: dict[str, Any]) -> dict[str, Any]:
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            text = content_text(message.get("content"))
            system.extend([{"text": text}] if text.strip() else [])
        elif role == "assistant":
            append_turn(messages, "assistant", _assistant_blocks(message))
        elif role == "tool":
            append_turn(messages, "user", [_tool_result(message)])
        else:
            append_turn(messages, "user", content_blocks(message.get("content")))
    payload: dict[str, Any] = {"messages": messages}
    if system:
        payload["system"] = system
    payload["inferenceConfig"] = inference_config(body)
    tools = tool_config(body)
    if tools:
        payload["toolConfig"] = tools
    extra = _model_fields(body)
    if extra:
        payload["additionalModelRequestFields"] = extra
    return payload


def content_blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            blocks.extend([{"text": part["text"]}] if part["text"].strip() else [])
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(_image(str(url)))
        elif part.get("type") == "file":
            file = part.get("file")
            blocks.append(_document(file if isinstance(file, dict) else {}, len(blocks)))
    return blocks


def _image(url: str) -> dict[str, Any]:
    parsed = parse_data_url(url)
    if parsed is None:
        raise UpstreamBadRequest("Bedrock takes images as data URLs (base64) only.")
    media_type, data = parsed
    kind = media_type.removeprefix("image/")
    if kind not in IMAGE_FORMATS:
        raise UpstreamBadRequest(f"Bedrock does not take images of type {media_type}.")
    return {"image": {"format": kind, "source": {"bytes": data}}}


def _document(file: dict[str, Any], position: int) -> dict[str, Any]:
    parsed = parse_data_url(str(file.get("file_data", "")))
    if parsed is None or parsed[0] != "application/pdf":
        raise UpstreamBadRequest("Bedrock takes files as PDF data URLs only.")
    name = str(file.get("filename") or f"document-{position + 1}").rsplit(".", 1)[0]
    return {"document": {"format": "pdf", "name": name, "source": {"bytes": parsed[1]}}}


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    text = content_text(message.get("content"))
    blocks: list[dict[str, Any]] = [{"text": text}] if text.strip() else []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        use = {
            "toolUseId": str(call.get("id", "")),
            "name": str(function.get("name", "")),
            "input": arguments_object(function.get("arguments")),
        }
        blocks.append({"toolUse": use})
    return blocks


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    text = content_text(message.get("content"))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    content = [{"json": value}] if isinstance(value, dict) else [{"text": text or " "}]
    return {"toolResult": {"toolUseId": str(message.get("tool_call_id", "")), "content": content}}


def inference_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = token_limit(body)
    if limit is not None:
        config["maxTokens"] = limit
    for name, key in (("temperature", "temperature"), ("top_p", "topP")):
        if name in body:
            config[key] = body[name]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    return config


def tool_config(body: dict[str, Any]) -> dict[str, Any]:
    tools = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            continue
        schema = function.get("parameters")
        spec = {"name": function.get("name"), "inputSchema": {"json": schema or {"type": "object"}}}
        if function.get("description"):
            spec["description"] = function["description"]
        tools.append({"toolSpec": spec})
    if not tools:
        return {}
    config: dict[str, Any] = {"tools": tools}
    choice = body.get("tool_choice")
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": choice["function"].get("name")}}
    return config


def _model_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Model-specific fields (`additionalModelRequestFields`), as Claude on Bedrock names them."""
    fields: dict[str, Any] = {}
    if "top_k" in body:
        fields["top_k"] = body["top_k"]
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        fields["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
    return fields
