"""OpenAI Realtime: the relay's target and meter, and transcription sessions as NLS events.

The relay passes every event through unchanged; `RealtimeMeter` only reads `response.done`
(found by a substring test before any parsing) for its usage.

`RealtimeTranscription` speaks the Realtime API's transcription sessions (beta wire format:
`OpenAI-Beta: realtime=v1`, `?intent=transcription`, `transcription_session.update`), with
server VAD cutting sentences. Client audio (16-bit PCM at the client's rate) is resampled to
the 24 kHz pcm16 the API takes and sent as `input_audio_buffer.append`. The mapping:

    transcription_session.updated                       -> Started
    input_audio_buffer.speech_started                   -> SentenceBegin
    conversation.item.input_audio_transcription.delta   -> ResultChanged (the text so far)
    conversation.item.input_audio_transcription.completed -> SentenceEnd
    error, ….transcription.failed                       -> Failed

After `stop` the buffer is committed (when it holds ≥ 100 ms) and Completed follows once
every committed item has its transcript.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from adapters.asr_events import (
    INVALID_PARAMETER,
    UPSTREAM_ERROR,
    AsrEvent,
    Completed,
    Failed,
    ResultChanged,
    SentenceBegin,
    SentenceEnd,
    Started,
)
from adapters.audio import PCM_RATE, WAV_HEADER_BYTES, Resampler
from adapters.base import Channel, Usage
from adapters.base_media import AsrParams, Message, SocketTarget
from adapters.openai import chat_headers

BETA = "realtime=v1"
DEFAULT_ASR_MODEL = "gpt-4o-transcribe"
MIN_COMMIT_MS = 100
_DONE_MARK = '"response.done"'
_SUBPROTOCOL_BETA = "openai-beta.realtime-v1"


def ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def socket_headers(channel: Channel, beta: str | None) -> dict[str, str]:
    headers = chat_headers(channel)
    headers.pop("Content-Type", None)
    if beta:
        headers["OpenAI-Beta"] = beta
    return headers


class OpenAIRealtimeAdapter:
    """`RealtimeAdapter` and `AsrStreamAdapter` for OpenAI-compatible Realtime upstreams."""

    def realtime_target(
        self, channel: Channel, query: Mapping[str, str], client_headers: Mapping[str, str]
    ) -> SocketTarget:
        params = {k: v for k, v in query.items() if k != "model"}
        params["model"] = channel.deploy_name or query.get("model", "")
        beta = _client_beta(client_headers)
        url = ws_url(channel.url.rstrip("/")) + "/realtime?" + urlencode(params)
        return SocketTarget(url=url, headers=socket_headers(channel, beta))

    def realtime_meter(self) -> OpenAIRealtimeMeter:
        return OpenAIRealtimeMeter()

    def asr_target(self, channel: Channel, client_headers: Mapping[str, str]) -> SocketTarget:
        url = ws_url(channel.url.rstrip("/")) + "/realtime?intent=transcription"
        return SocketTarget(url=url, headers=socket_headers(channel, BETA))

    def asr_session(self, channel: Channel, params: AsrParams) -> RealtimeTranscription:
        return RealtimeTranscription(channel.deploy_name or DEFAULT_ASR_MODEL, params)


def _client_beta(client_headers: Mapping[str, str]) -> str | None:
    for name, value in client_headers.items():
        lowered = name.lower()
        if lowered == "openai-beta":
            return value
        if lowered == "sec-websocket-protocol" and _SUBPROTOCOL_BETA in value:
            return BETA
    return None


class OpenAIRealtimeMeter:
    """Adds up the usage of every `response.done` in a relayed session."""

    __slots__ = ("usage",)

    def __init__(self) -> None:
        self.usage: Usage | None = None

    def feed(self, message: str) -> None:
        if _DONE_MARK not in message:
            return
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict) or event.get("type") != "response.done":
            return
        response = event.get("response")
        usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict):
            self._add(usage)

    def _add(self, usage: dict[str, Any]) -> None:
        details = usage.get("input_token_details")
        cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
        total = self.usage or Usage()
        total.prompt_tokens += _int(usage.get("input_tokens"))
        total.completion_tokens += _int(usage.get("output_tokens"))
        total.cached_tokens += _int(cached)
        self.usage = total


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


class RealtimeTranscription:
    """`AsrSession` over an OpenAI Realtime transcription session (see the module doc)."""

    def __init__(self, model: str, params: AsrParams) -> None:
        self._model = model
        self._params = params
        self._resampler = Resampler(params.sample_rate, PCM_RATE)
        self._skip_header = params.format == "wav"
        self._bytes_per_ms = params.sample_rate * 2 / 1000
        self._audio_ms = 0.0  # audio received, in ms
        self._committed_ms = 0.0  # audio up to here is committed (by the VAD or by us)
        self._commit_begin_ms = 0.0  # where the audio of our own last commit began
        self._sentences: dict[str, list[Any]] = {}  # item id -> [index, begin ms, end ms, text]
        self._pending: set[str] = set()
        self._next_index = 1
        self._started = False
        self._stopping = False
        self._completed = False

    def start(self) -> list[Message]:
        transcription: dict[str, Any] = {"model": self._model}
        if self._params.language:
            transcription["language"] = self._params.language
        prompt = self._params.extra.get("prompt")
        if isinstance(prompt, str) and prompt:
            transcription["prompt"] = prompt
        session = {
            "input_audio_format": "pcm16",
            "input_audio_transcription": transcription,
            "turn_detection": {
                "type": "server_vad",
                "silence_duration_ms": self._params.max_sentence_silence_ms,
            },
        }
        update = {"type": "transcription_session.update", "session": session}
        return [orjson.dumps(update).decode()]

    def audio(self, frame: bytes) -> list[Message]:
        if self._skip_header:
            self._skip_header = False
            if frame[:4] == b"RIFF":
                frame = frame[WAV_HEADER_BYTES:]
        self._audio_ms += len(frame) / self._bytes_per_ms
        pcm = self._resampler.feed(frame)
        if not pcm:
            return []
        audio = base64.b64encode(pcm).decode("ascii")
        return ['{"type":"input_audio_buffer.append","audio":"' + audio + '"}']

    def stop(self) -> tuple[list[Message], list[AsrEvent]]:
        self._stopping = True
        if self._audio_ms - self._committed_ms >= MIN_COMMIT_MS:
            self._commit_begin_ms, self._committed_ms = self._committed_ms, self._audio_ms
            return ['{"type":"input_audio_buffer.commit"}'], []
        return [], self._finish()

    def receive(self, message: Message) -> list[AsrEvent]:
        if isinstance(message, bytes):
            return []
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError:
            return [Failed(UPSTREAM_ERROR, "The upstream sent a message that is not JSON.")]
        if not isinstance(event, dict):
            return []
        return self._on(str(event.get("type", "")), event)

    def _on(self, kind: str, event: dict[str, Any]) -> list[AsrEvent]:
        if kind in ("transcription_session.updated", "session.updated"):
            return self._on_started(event)
        if kind == "input_audio_buffer.speech_started":
            return self._begin(str(event.get("item_id", "")), _int(event.get("audio_start_ms")))
        if kind == "input_audio_buffer.speech_stopped":
            return self._on_stopped(event)
        if kind == "input_audio_buffer.committed":
            return self._on_committed(str(event.get("item_id", "")))
        if kind == "conversation.item.input_audio_transcription.delta":
            return self._on_delta(event)
        if kind == "conversation.item.input_audio_transcription.completed":
            return self._on_completed(event)
        if kind in ("error", "conversation.item.input_audio_transcription.failed"):
            return self._on_error(event)
        return []

    def _on_started(self, event: dict[str, Any]) -> list[AsrEvent]:
        if self._started:
            return []
        self._started = True
        session = event.get("session")
        session_id = session.get("id", "") if isinstance(session, dict) else ""
        return [Started(str(session_id))]

    def _begin(self, item_id: str, begin_ms: int) -> list[AsrEvent]:
        index = self._next_index
        self._next_index += 1
        self._sentences[item_id] = [index, begin_ms, begin_ms, ""]
        return [SentenceBegin(index, begin_ms)]

    def _sentence(self, event: dict[str, Any], at_ms: int) -> list[Any]:
        item_id = str(event.get("item_id", ""))
        if item_id not in self._sentences:
            self._begin(item_id, at_ms)
        return self._sentences[item_id]

    def _on_stopped(self, event: dict[str, Any]) -> list[AsrEvent]:
        end_ms = _int(event.get("audio_end_ms"))
        self._committed_ms = max(self._committed_ms, float(end_ms))
        self._sentence(event, end_ms)[2] = end_ms
        return []

    def _on_committed(self, item_id: str) -> list[AsrEvent]:
        self._pending.add(item_id)
        if item_id in self._sentences:
            return []
        events = self._begin(item_id, round(self._commit_begin_ms))
        self._sentences[item_id][2] = round(self._audio_ms)
        return events

    def _on_delta(self, event: dict[str, Any]) -> list[AsrEvent]:
        sentence = self._sentence(event, round(self._audio_ms))
        sentence[3] += str(event.get("delta", ""))
        if not self._params.intermediate:
            return []
        return [ResultChanged(sentence[0], max(sentence[2], sentence[1]), sentence[3])]

    def _on_completed(self, event: dict[str, Any]) -> list[AsrEvent]:
        item_id = str(event.get("item_id", ""))
        index, begin, end, text = self._sentence(event, round(self._audio_ms))
        self._pending.discard(item_id)
        transcript = event.get("transcript")
        final = str(transcript if isinstance(transcript, str) else text).strip()
        events: list[AsrEvent] = [SentenceEnd(index, max(end, begin), begin, final)]
        if self._stopping:
            events += self._finish()
        return events

    def _on_error(self, event: dict[str, Any]) -> list[AsrEvent]:
        error = event.get("error")
        detail: dict[str, Any] = error if isinstance(error, dict) else {}
        if detail.get("code") == "input_audio_buffer_commit_empty" and self._stopping:
            return self._finish()
        message = str(detail.get("message") or "The upstream reported an error.")
        invalid = detail.get("type") == "invalid_request_error"
        return [Failed(INVALID_PARAMETER if invalid else UPSTREAM_ERROR, message)]

    def _finish(self) -> list[AsrEvent]:
        if self._pending or self._completed:
            return []
        self._completed = True
        return [Completed()]
