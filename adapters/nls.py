"""The Aliyun-NLS-style realtime transcription wire format, sans-I/O.

The client (and the mock upstream) speak it: JSON text messages with a `header`
(`namespace`, `name`, `task_id`, `message_id`, and on events `status`/`status_message`) and
a `payload`; audio goes as binary frames between StartTranscription and StopTranscription.

    {"header": {"namespace": "SpeechTranscriber", "name": "StartTranscription",
                "task_id": "…", "message_id": "…"},
     "payload": {"format": "pcm", "sample_rate": 16000, "enable_intermediate_result": true}}
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.asr_events import (
    SUCCESS,
    AsrEvent,
    Completed,
    Failed,
    ResultChanged,
    SentenceBegin,
    SentenceEnd,
    Started,
)
from adapters.base_media import AsrParams

NAMESPACE = "SpeechTranscriber"
START = "StartTranscription"
STOP = "StopTranscription"
FORMATS = frozenset({"pcm", "wav"})
SAMPLE_RATES = frozenset({8000, 16000, 24000, 48000})
_KNOWN = frozenset(
    {
        "format",
        "sample_rate",
        "enable_intermediate_result",
        "enable_punctuation_prediction",
        "language",
        "max_sentence_silence",
    }
)


class NlsError(ValueError):
    """A client message that is not a valid command; the message says why."""


@dataclass(frozen=True, slots=True)
class Start:
    task_id: str
    params: AsrParams


@dataclass(frozen=True, slots=True)
class Stop:
    task_id: str


Command = Start | Stop


def new_id() -> str:
    return secrets.token_hex(16)


def parse_command(text: str) -> Command:
    """A client's text message as a command; raises `NlsError` when it is not one."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise NlsError("The message is not JSON.") from None
    header = message.get("header") if isinstance(message, dict) else None
    if not isinstance(header, dict):
        raise NlsError("The message has no 'header' object.")
    name = header.get("name")
    task_id = header.get("task_id")
    task_id = task_id if isinstance(task_id, str) and task_id else new_id()
    if name == STOP:
        return Stop(task_id)
    if name != START:
        raise NlsError(f"Unknown command {name!r}: expected {START} or {STOP}.")
    payload = message.get("payload", {})
    if not isinstance(payload, dict):
        raise NlsError("'payload' must be an object.")
    return Start(task_id, params_of(payload))


def params_of(payload: dict[str, Any]) -> AsrParams:
    fmt = str(payload.get("format", "pcm")).lower()
    if fmt not in FORMATS:
        raise NlsError(f"Unsupported format {fmt!r}: use one of {', '.join(sorted(FORMATS))}.")
    rate = payload.get("sample_rate", 16000)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in SAMPLE_RATES:
        rates = ", ".join(str(r) for r in sorted(SAMPLE_RATES))
        raise NlsError(f"Unsupported sample_rate {rate!r}: use one of {rates}.")
    silence = payload.get("max_sentence_silence", 800)
    if isinstance(silence, bool) or not isinstance(silence, int) or not 200 <= silence <= 6000:
        raise NlsError("max_sentence_silence must be an integer of 200 to 6000 ms.")
    return AsrParams(
        format=fmt,
        sample_rate=rate,
        intermediate=payload.get("enable_intermediate_result", True) is not False,
        punctuation=payload.get("enable_punctuation_prediction", True) is not False,
        language=str(payload.get("language") or ""),
        max_sentence_silence_ms=silence,
        extra={k: v for k, v in payload.items() if k not in _KNOWN},
    )


def render_command(command: Command) -> str:
    """A command as the client sends it (the mock upstream is addressed this way)."""
    header = {"namespace": NAMESPACE, "task_id": command.task_id, "message_id": new_id()}
    if isinstance(command, Stop):
        return orjson.dumps({"header": {**header, "name": STOP}, "payload": {}}).decode()
    p = command.params
    payload = {
        "format": p.format,
        "sample_rate": p.sample_rate,
        "enable_intermediate_result": p.intermediate,
        "enable_punctuation_prediction": p.punctuation,
        "max_sentence_silence": p.max_sentence_silence_ms,
        **({"language": p.language} if p.language else {}),
    }
    return orjson.dumps({"header": {**header, "name": START}, "payload": payload}).decode()


def render_event(event: AsrEvent, task_id: str) -> str:
    name, payload = _name_payload(event)
    status, text = (event.status, event.message) if isinstance(event, Failed) else (SUCCESS, "")
    header = {
        "namespace": NAMESPACE,
        "name": name,
        "status": status,
        "status_message": text or "GATEWAY|SUCCESS|Success.",
        "message_id": new_id(),
        "task_id": task_id,
    }
    return orjson.dumps({"header": header, "payload": payload}).decode()


def _name_payload(event: AsrEvent) -> tuple[str, dict[str, Any]]:
    if isinstance(event, Started):
        return "TranscriptionStarted", {"session_id": event.session_id}
    if isinstance(event, SentenceBegin):
        return "SentenceBegin", {"index": event.index, "time": event.time_ms}
    if isinstance(event, ResultChanged):
        payload = {"index": event.index, "time": event.time_ms, "result": event.text}
        return "TranscriptionResultChanged", payload
    if isinstance(event, SentenceEnd):
        return "SentenceEnd", {
            "index": event.index,
            "time": event.time_ms,
            "begin_time": event.begin_ms,
            "result": event.text,
            "confidence": 1.0,
        }
    if isinstance(event, Completed):
        return "TranscriptionCompleted", {}
    return "TaskFailed", {}


def parse_event(text: str) -> AsrEvent | None:
    """An NLS event (from the mock upstream); None for anything else."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    header = message.get("header") if isinstance(message, dict) else None
    if not isinstance(header, dict):
        return None
    payload = message.get("payload")
    p: dict[str, Any] = payload if isinstance(payload, dict) else {}
    return _event(str(header.get("name")), header, p)


def _event(name: str, header: dict[str, Any], p: dict[str, Any]) -> AsrEvent | None:
    index, time_ms = int(p.get("index", 0)), int(p.get("time", 0))
    if name == "TranscriptionStarted":
        return Started(str(p.get("session_id", "")))
    if name == "SentenceBegin":
        return SentenceBegin(index, time_ms)
    if name == "TranscriptionResultChanged":
        return ResultChanged(index, time_ms, str(p.get("result", "")))
    if name == "SentenceEnd":
        return SentenceEnd(index, time_ms, int(p.get("begin_time", 0)), str(p.get("result", "")))
    if name == "TranscriptionCompleted":
        return Completed()
    if name == "TaskFailed":
        return Failed(int(header.get("status", 50000000)), str(header.get("status_message", "")))
    return None
