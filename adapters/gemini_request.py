"""Chat requests as Gemini `generateContent` bodies.

Roles: system/developer → `systemInstruction`; user → `user`; assistant → `model`; tool
results → `functionResponse` parts of a `user` turn (named after the call they answer, which
Gemini matches by name and order). Consecutive turns of one role are merged. A tool call's
`thoughtSignature` (which Gemini requires back with the call in later turns) travels inside
the call id given to the client, after `SIGNATURE_MARK`.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from adapters.chunks import arguments_object
from adapters.fc_prompt import content_text
from adapters.messages_blocks import parse_data_url
from adapters.options import token_limit
from adapters.turns import append_turn

SIGNATURE_MARK = "__thought__"
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
# JSON Schema keywords outside the OpenAPI subset Gemini's `parameters` accepts.
SCHEMA_DROPPED = frozenset({"$schema", "$id", "additionalProperties", "strict", "$comment"})
# Keywords whose value maps names to schemas (the names are not keywords).
NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
CONFIG_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "seed": "seed",
}
CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def chat_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            text = content_text(message.get("content"))
            system.extend([{"text": text}] if text else [])
        elif role == "assistant":
            append_turn(contents, "model", _model_parts(message, names), "parts")
        elif role == "tool":
            append_turn(contents, "user", [_function_response(message, names)], "parts")
        else:
            append_turn(contents, "user", user_parts(message.get("content")), "parts")
    payload: dict[str, Any] = {"contents": contents}
    if system:
        payload["systemInstruction"] = {"parts": system}
    config = generation_config(body)
    if config:
        payload["generationConfig"] = config
    payload.update(gemini_tools(body))
    return payload


def user_parts(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for part in content if isinstance(content, list) else ():
        converted = _part(part) if isinstance(part, dict) else None
        if converted is not None:
            parts.append(converted)
    return parts


def _part(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
        return {"text": part["text"]}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _media(url) if isinstance(url, str) else None
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, dict) else None
        return _media(data) if isinstance(data, str) else None
    if kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, dict) and isinstance(audio.get("data"), str):
            mime = f"audio/{audio.get('format') or 'wav'}"
            return {"inlineData": {"mimeType": mime, "data": audio["data"]}}
    return None


def _media(url: str) -> dict[str, Any]:
    parsed = parse_data_url(url)
    if parsed is not None:
        return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _model_parts(message: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    text = content_text(message.get("content"))
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        call_id = str(call.get("id", ""))
        names[call_id] = str(function.get("name", ""))
        args = arguments_object(function.get("arguments"))
        part: dict[str, Any] = {"functionCall": {"name": names[call_id], "args": args}}
        _, mark, signature = call_id.partition(SIGNATURE_MARK)
        if mark and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id", ""))
    text = content_text(message.get("content"))
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    name = names.get(call_id) or str(message.get("name", ""))
    return {"functionResponse": {"name": name, "response": response}}


def generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config = {key: body[name] for name, key in CONFIG_FIELDS.items() if name in body}
    limit = token_limit(body)
    if limit is not None:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            config["responseJsonSchema"] = schema["schema"]
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


def gemini_tools(body: dict[str, Any]) -> dict[str, Any]:
    declarations = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            continue
        declaration = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if isinstance(function.get("parameters"), dict):
            declaration["parameters"] = clean_schema(function["parameters"])
        declarations.append(declaration)
    if not declarations:
        return {}
    out: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice in CHOICE_MODES:
        out["toolConfig"] = {"functionCallingConfig": {"mode": CHOICE_MODES[choice]}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config = {"mode": "ANY", "allowedFunctionNames": [choice["function"].get("name")]}
        out["toolConfig"] = {"functionCallingConfig": config}
    return out


def clean_schema(schema: object) -> Any:
    """A JSON Schema narrowed to what Gemini takes: unknown keywords out, null unions folded."""
    if isinstance(schema, list):
        return [clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: clean_schema(item) for name, item in value.items()}
        elif key not in SCHEMA_DROPPED:
            out[key] = clean_schema(value)
    kind = out.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        out["type"] = types[0] if types else "string"
        if len(types) < len(kind):
            out["nullable"] = True
    return out
