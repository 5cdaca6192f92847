"""Function-call emulation, request side: tools and tool history rendered as plain chat.

For a model without native tools, the request's `tools` become a system prompt that asks
for each call as one strictly formatted block:

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

Earlier assistant tool calls are written back in that same format, and tool results become
user turns wrapped in `<tool_result>`, so a multi-turn conversation reads consistently to the
model. `fc_simulate` parses the reply.
"""

from __future__ import annotations

from typing import Any

import orjson

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
# Request fields a model without tools must not see.
TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls", "functions", "function_call")

INSTRUCTIONS = """\
You can call tools. The tools available, each with a JSON Schema of its arguments:

{tools}

To call a tool, answer with one block per call, and nothing after the last block:
<tool_call>
{{"name": "<tool name>", "arguments": {{<the arguments as a JSON object>}}}}
</tool_call>
Each block holds exactly one JSON object with the keys "name" and "arguments". Results come \
back in <tool_result> blocks. {choice}"""

CHOICES = {
    "auto": "When no tool is needed, answer normally, without any <tool_call> block.",
    "required": "You must call at least one tool now.",
}


def function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's function definitions (`tools`, or the legacy `functions`)."""
    tools = body.get("tools")
    if isinstance(tools, list):
        found = [tool.get("function") for tool in tools if isinstance(tool, dict)]
    else:
        legacy = body.get("functions")
        found = list(legacy) if isinstance(legacy, list) else []
    return [f for f in found if isinstance(f, dict) and isinstance(f.get("name"), str)]


def needs_emulation(body: dict[str, Any]) -> bool:
    """Whether the request uses tools or carries tool history."""
    if function_tools(body):
        return True
    messages = body.get("messages")
    return isinstance(messages, list) and any(
        isinstance(m, dict) and (m.get("role") == "tool" or m.get("tool_calls")) for m in messages
    )


def emulated_body(body: dict[str, Any]) -> dict[str, Any]:
    """The chat body without tools: instructions in the system prompt, history as text."""
    payload = {key: value for key, value in body.items() if key not in TOOL_FIELDS}
    messages = render_history(body.get("messages"))
    prompt = tool_prompt(body)
    if prompt:
        messages = _with_system(messages, prompt)
    payload["messages"] = messages
    return payload


def tool_prompt(body: dict[str, Any]) -> str:
    tools = function_tools(body)
    choice = _choice_text(body.get("tool_choice", body.get("function_call")))
    if not tools or choice is None:
        return ""
    listed = "\n".join(_tool_line(tool) for tool in tools)
    return INSTRUCTIONS.format(tools=listed, choice=choice)


def _choice_text(choice: object) -> str | None:
    """The instruction for `tool_choice`; None when tools are not to be offered at all."""
    if choice == "none":
        return None
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if isinstance(name, str):
            return f"You must call the tool {name} now."
    if choice in ("required", "any"):
        return CHOICES["required"]
    return CHOICES["auto"]


def _tool_line(tool: dict[str, Any]) -> str:
    line = f"- {tool['name']}"
    description = tool.get("description")
    if isinstance(description, str) and description:
        line += f": {description}"
    schema = tool.get("parameters") or {"type": "object", "properties": {}}
    return line + "\n  arguments schema: " + orjson.dumps(schema).decode()


def call_block(name: str, arguments: object) -> str:
    call = {"name": name, "arguments": arguments}
    return f"{CALL_OPEN}\n{orjson.dumps(call).decode()}\n{CALL_CLOSE}"


def render_history(messages: object) -> list[Any]:
    """Messages with tool calls and tool results turned into text turns."""
    if not isinstance(messages, list):
        return []
    names: dict[str, str] = {}
    out: list[Any] = []
    results: dict[str, Any] = {}
    for message in messages:
        if not isinstance(message, dict):
            out.append(message)
        elif message.get("role") == "tool":
            # Consecutive tool results share one user turn, as one answer to the calls.
            text = _result_text(message, names)
            if out and out[-1] is results:
                results["content"] += "\n" + text
            else:
                results = {"role": "user", "content": text}
                out.append(results)
        elif message.get("role") == "assistant" and message.get("tool_calls"):
            out.append(_assistant_turn(message, names))
        else:
            out.append(message)
    return out


def _assistant_turn(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    blocks = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        name = str(function.get("name", ""))
        names[str(call.get("id", ""))] = name
        blocks.append(call_block(name, _arguments(function.get("arguments"))))
    text = content_text(message.get("content"))
    turn = {k: v for k, v in message.items() if k not in ("tool_calls", "content")}
    turn["content"] = "\n".join([text, *blocks] if text else blocks)
    return turn


def _arguments(arguments: object) -> object:
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments if arguments is not None else {}


def _result_text(message: dict[str, Any], names: dict[str, str]) -> str:
    call_id = str(message.get("tool_call_id", ""))
    name = names.get(call_id) or str(message.get("name", ""))
    attributes = orjson.dumps(call_id).decode()
    head = f"<tool_result id={attributes} name={orjson.dumps(name).decode()}>"
    return f"{head}\n{content_text(message.get('content'))}\n</tool_result>"


def _with_system(messages: list[Any], prompt: str) -> list[Any]:
    first = messages[0] if messages else None
    if isinstance(first, dict) and first.get("role") in ("system", "developer"):
        merged = dict(first, content=content_text(first.get("content")) + "\n\n" + prompt)
        return [merged, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


def content_text(content: object) -> str:
    """The text of a message's content: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        part["text"]
        for part in content
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )
