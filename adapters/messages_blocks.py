"""Content pieces of the chat ⇄ Anthropic Messages conversion: parts, blocks, tools."""

from __future__ import annotations

from typing import Any

# Chat part types this module converts; other typed dicts are taken as native blocks.
CHAT_PART_TYPES = frozenset({"text", "image_url", "file", "input_audio", "refusal"})
ANTHROPIC_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def content_blocks(content: object) -> list[dict[str, Any]]:
    """Anthropic content blocks for a chat message's content (a string or parts)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if not isinstance(content, list):
        return []
    blocks = []
    for part in content:
        block = _part_block(part) if isinstance(part, dict) else None
        if block is not None:
            blocks.append(block)
    return blocks


def _part_block(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str) or not text.strip():
            return None
        block: dict[str, Any] = {"type": "text", "text": text}
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        return block
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return {"type": "image", "source": url_source(url)} if isinstance(url, str) else None
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, dict) else None
        if isinstance(data, str) and data.startswith("data:"):
            return {"type": "document", "source": url_source(data)}
        return None
    if kind in CHAT_PART_TYPES or not isinstance(kind, str):
        return None
    return part  # already an Anthropic block (`document`, `search_result`, …)


def url_source(url: str) -> dict[str, Any]:
    """An Anthropic `source`: `base64` for a data URL, `url` otherwise."""
    parsed = parse_data_url(url)
    if parsed is None:
        return {"type": "url", "url": url}
    media_type, data = parsed
    return {"type": "base64", "media_type": media_type, "data": data}


def parse_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:…;base64,…` URL; None for anything else."""
    if not url.startswith("data:"):
        return None
    head, comma, data = url[5:].partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    result: Any = content if isinstance(content, str) else content_blocks(content)
    return {
        "type": "tool_result",
        "tool_use_id": str(message.get("tool_call_id", "")),
        "content": result,
    }


def block_part(block: dict[str, Any]) -> dict[str, Any] | None:
    """The chat content part for an Anthropic user block; None when it has none."""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    url = _source_url(source)
    if url is None:
        return None
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "document" and url.startswith("data:"):
        return {"type": "file", "file": {"file_data": url}}
    return None


def _source_url(source: dict[str, Any]) -> str | None:
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        return (
            f"data:{source.get('media_type', 'application/octet-stream')};base64,{source['data']}"
        )
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    return None


def chat_tools(tools: object, choice: object) -> dict[str, Any]:
    """`tools`, `tool_choice` and `parallel_tool_calls` for Anthropic's tools and choice."""
    functions = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
            continue  # server tools (web search, …) have no chat equivalent
        function: dict[str, Any] = {
            "name": tool.get("name"),
            "parameters": tool.get("input_schema"),
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    if not functions:
        return {}
    out: dict[str, Any] = {"tools": functions}
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ANTHROPIC_CHOICES:
            out["tool_choice"] = ANTHROPIC_CHOICES[kind]
        elif kind == "tool" and isinstance(choice.get("name"), str):
            out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    return out
