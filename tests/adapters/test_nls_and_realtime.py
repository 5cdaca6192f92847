"""The NLS wire format and the OpenAI Realtime transcription mapping, synchronously."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from adapters.asr_events import (
    INVALID_PARAMETER,
    Completed,
    Failed,
    ResultChanged,
    SentenceBegin,
    SentenceEnd,
    Started,
)
from adapters.base import Channel
from adapters.base_media import AsrParams
from adapters.nls import (
    NlsError,
    Start,
    Stop,
    parse_command,
    parse_event,
    render_command,
    render_event,
)
from adapters.openai_realtime import (
    OpenAIRealtimeAdapter,
    OpenAIRealtimeMeter,
    RealtimeTranscription,
)

CHANNEL = Channel(
    "ch", "openai", "https://api.example.com/v1", "gpt-4o-transcribe", {"api_key": "sk-x"}
)


def test_commands_round_trip() -> None:
    params = AsrParams(format="pcm", sample_rate=8000, intermediate=False, language="zh")
    start = parse_command(render_command(Start("t1", params)))
    assert isinstance(start, Start)
    assert start.task_id == "t1"
    assert (start.params.sample_rate, start.params.intermediate, start.params.language) == (
        8000,
        False,
        "zh",
    )
    assert parse_command(render_command(Stop("t1"))) == Stop("t1")


@pytest.mark.parametrize(
    "text",
    [
        "[1]",
        "{}",
        '{"header": {"name": "Nope"}}',
        '{"header": {"name": "StartTranscription"}, "payload": {"sample_rate": 11025}}',
        '{"header": {"name": "StartTranscription"}, "payload": {"format": "opus"}}',
        '{"header": {"name": "StartTranscription"}, "payload": []}',
    ],
)
def test_bad_commands(text: str) -> None:
    with pytest.raises(NlsError):
        parse_command(text)


@pytest.mark.parametrize(
    "event",
    [
        Started("s"),
        SentenceBegin(1, 0),
        ResultChanged(1, 300, "hi"),
        SentenceEnd(1, 900, 0, "hi there"),
        Completed(),
        Failed(40000002, "bad"),
    ],
)
def test_events_round_trip(event: Any) -> None:
    text = render_event(event, "task")
    assert orjson.loads(text)["header"]["task_id"] == "task"
    assert parse_event(text) == event


def upstream(kind: str, **fields: Any) -> str:
    return orjson.dumps({"type": kind, **fields}).decode()


def test_transcription_session_maps_to_nls_events() -> None:
    session = RealtimeTranscription("whisper", AsrParams(sample_rate=16000, language="en"))
    [update] = session.start()
    sent = orjson.loads(update)
    assert sent["session"]["input_audio_transcription"] == {"model": "whisper", "language": "en"}
    assert session.receive(upstream("transcription_session.created")) == []
    assert session.receive(upstream("transcription_session.updated", session={"id": "s"})) == [
        Started("s")
    ]
    [append] = session.audio(b"\x00\x01" * 320)  # 20 ms at 16 kHz
    assert orjson.loads(append)["type"] == "input_audio_buffer.append"
    started = upstream("input_audio_buffer.speech_started", audio_start_ms=120, item_id="i1")
    assert session.receive(started) == [SentenceBegin(1, 120)]
    session.receive(upstream("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="i1"))
    session.receive(upstream("input_audio_buffer.committed", item_id="i1"))
    delta = "conversation.item.input_audio_transcription.delta"
    assert session.receive(upstream(delta, item_id="i1", delta="hel")) == [
        ResultChanged(1, 900, "hel")
    ]
    done = "conversation.item.input_audio_transcription.completed"
    assert session.receive(upstream(done, item_id="i1", transcript=" hello ")) == [
        SentenceEnd(1, 900, 120, "hello")
    ]
    messages, events = session.stop()
    assert (messages, events) == ([], [Completed()])  # nothing uncommitted, nothing pending


def test_stop_commits_and_waits_for_the_pending_item() -> None:
    session = RealtimeTranscription("m", AsrParams(sample_rate=24000, intermediate=False))
    session.audio(b"\x00\x00" * 24000)  # 1 s
    messages, events = session.stop()
    assert messages == ['{"type":"input_audio_buffer.commit"}']
    assert events == []
    assert session.receive(upstream("input_audio_buffer.committed", item_id="i9")) == [
        SentenceBegin(1, 0)
    ]
    delta = "conversation.item.input_audio_transcription.delta"
    assert session.receive(upstream(delta, item_id="i9", delta="x")) == []  # no intermediates
    done = "conversation.item.input_audio_transcription.completed"
    assert session.receive(upstream(done, item_id="i9", transcript="x")) == [
        SentenceEnd(1, 1000, 0, "x"),
        Completed(),
    ]


def test_errors_map_to_task_failed() -> None:
    session = RealtimeTranscription("m", AsrParams())
    error = {"type": "invalid_request_error", "message": "bad rate"}
    assert session.receive(upstream("error", error=error)) == [
        Failed(INVALID_PARAMETER, "bad rate")
    ]
    assert isinstance(session.receive("not json")[0], Failed)
    session.stop()
    empty = {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty"}
    assert session.receive(upstream("error", error=empty)) == []  # already completed


def test_targets_and_meter() -> None:
    adapter = OpenAIRealtimeAdapter()
    target = adapter.realtime_target(
        CHANNEL, {"model": "x", "voice": "v"}, {"OpenAI-Beta": "realtime=v1"}
    )
    assert target.url == "wss://api.example.com/v1/realtime?voice=v&model=gpt-4o-transcribe"
    assert target.headers["Authorization"] == "Bearer sk-x"
    assert target.headers["OpenAI-Beta"] == "realtime=v1"
    assert "OpenAI-Beta" not in adapter.realtime_target(CHANNEL, {}, {}).headers
    asr = adapter.asr_target(CHANNEL, {})
    assert asr.url.endswith("/realtime?intent=transcription")
    meter = OpenAIRealtimeMeter()
    usage = {"input_tokens": 5, "output_tokens": 7, "input_token_details": {"cached_tokens": 2}}
    for _ in range(2):
        meter.feed(upstream("response.done", response={"usage": usage}))
    meter.feed(upstream("response.created", response={"usage": usage}))
    assert meter.usage is not None
    assert (
        meter.usage.prompt_tokens,
        meter.usage.completion_tokens,
        meter.usage.cached_tokens,
    ) == (10, 14, 4)
