"""The mock's streaming recognition: an NLS-speaking upstream, in process or on a socket.

`MockAsrEngine` is the sans-I/O core: it counts the audio received and, each tick, turns
it into words of the mock text (about 2.5 words a second of audio), grouped into sentences
of eight words. `MockAsrSocket` runs an engine behind the `MessageSocket` interface, ticking
every `X-Bella-Mock-Interval-Ms` (default 200 ms); `X-Bella-Mock-Recv-Delay-Ms` makes each
audio frame take that long to be accepted, a slow upstream for backpressure tests.

A `mock` channel whose url is `ws://…` is served by a standalone mock (the bench runs one);
any other url means the in-process socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from adapters.asr_events import (
    INVALID_MESSAGE,
    AsrEvent,
    Completed,
    Failed,
    ResultChanged,
    SentenceBegin,
    SentenceEnd,
    Started,
)
from adapters.base import Channel
from adapters.base_media import AsrParams, Message, SocketTarget
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from adapters.mock import Sleep, mock_headers, parse_mock_settings
from adapters.mock_chat import DEFAULT_TEXT
from adapters.nls import (
    NlsError,
    Start,
    Stop,
    new_id,
    parse_command,
    parse_event,
    render_command,
    render_event,
)

MOCK_ASR_URL = "mock:asr"
WORDS_PER_SECOND = 2.5
WORDS_PER_SENTENCE = 8
DEFAULT_TICK_MS = 200.0
RECV_DELAY_HEADER = "x-bella-mock-recv-delay-ms"


class MockAsrEngine:
    """Words from audio received; see the module doc. Feed it, tick it, finish it."""

    def __init__(self, text: str = DEFAULT_TEXT) -> None:
        self.words = text.split() or ["…"]
        self.params: AsrParams | None = None
        self.audio_bytes = 0
        self._emitted = 0  # words emitted so far
        self._sentence: list[str] = []
        self._index = 0
        self._begin_ms = 0

    @property
    def audio_ms(self) -> int:
        rate = self.params.sample_rate if self.params else 16000
        return self.audio_bytes * 1000 // (rate * 2)

    def start(self, params: AsrParams) -> list[AsrEvent]:
        self.params = params
        return [Started(new_id())]

    def tick(self) -> list[AsrEvent]:
        due = int(self.audio_ms / 1000 * WORDS_PER_SECOND)
        events: list[AsrEvent] = []
        changed = False
        while self._emitted < due:
            if not self._sentence:
                self._index += 1
                self._begin_ms = round(self._emitted / WORDS_PER_SECOND * 1000)
                events.append(SentenceBegin(self._index, self._begin_ms))
            self._sentence.append(self.words[self._emitted % len(self.words)])
            self._emitted += 1
            changed = True
            if len(self._sentence) == WORDS_PER_SENTENCE:
                events.append(self._end())
                changed = False
        if changed and self.params is not None and self.params.intermediate:
            text = " ".join(self._sentence)
            events.append(ResultChanged(self._index, self.audio_ms, text))
        return events

    def finish(self) -> list[AsrEvent]:
        events = self.tick()
        if self._sentence:
            events.append(self._end())
        return [*events, Completed()]

    def _end(self) -> SentenceEnd:
        text = " ".join(self._sentence)
        self._sentence = []
        return SentenceEnd(self._index, self.audio_ms, self._begin_ms, text)


class MockAsrSocket:
    """An in-process NLS upstream behind the `MessageSocket` interface."""

    def __init__(
        self, engine: MockAsrEngine, *, tick_s: float, recv_delay_s: float, sleep: Sleep
    ) -> None:
        self._engine = engine
        self._tick_s = tick_s
        self._recv_delay_s = recv_delay_s
        self._sleep = sleep
        self._out: asyncio.Queue[Message | None] = asyncio.Queue()
        self._ticker: asyncio.Task[None] | None = None
        self._task_id = ""
        self.close_code: int | None = None
        self.close_reason = ""

    async def send(self, message: Message) -> None:
        if self.close_code is not None:
            raise UpstreamServerError("The mock upstream socket is closed.")
        if isinstance(message, bytes):
            if self._recv_delay_s:
                await self._sleep(self._recv_delay_s)
            self._audio(len(message))
            return
        try:
            command = parse_command(message)
        except NlsError as exc:
            self._emit([Failed(INVALID_MESSAGE, str(exc))])
            return
        self._command(command)

    def _audio(self, size: int) -> None:
        if self._engine.params is None:
            self._emit([Failed(INVALID_MESSAGE, "Audio before StartTranscription.")])
            return
        self._engine.audio_bytes += size

    def _command(self, command: Start | Stop) -> None:
        if isinstance(command, Start):
            if self._engine.params is not None:
                self._emit([Failed(INVALID_MESSAGE, "StartTranscription again.")])
                return
            self._task_id = command.task_id
            self._emit(self._engine.start(command.params))
            self._ticker = asyncio.ensure_future(self._tick_forever())
            return
        self._stop_ticking()
        self._emit(self._engine.finish())

    def _emit(self, events: list[AsrEvent]) -> None:
        for event in events:
            self._out.put_nowait(render_event(event, self._task_id))

    async def _tick_forever(self) -> None:
        while True:
            await self._sleep(self._tick_s)
            self._emit(self._engine.tick())

    def _stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def receive(self) -> Message | None:
        if self.close_code is not None and self._out.empty():
            return None
        return await self._out.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._out.put_nowait(None)
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


def connect_mock_asr(target: SocketTarget, *, sleep: Sleep = asyncio.sleep) -> MockAsrSocket:
    """Open an in-process mock session; `X-Bella-Mock-Status` ≥ 400 refuses it."""
    settings = parse_mock_settings(target.headers)
    if settings.status is not None and settings.status >= 400:
        raise _refusal(settings.status)
    tick_ms = settings.interval_ms or DEFAULT_TICK_MS
    delay = _header_ms(target.headers, RECV_DELAY_HEADER)
    engine = MockAsrEngine(settings.text or DEFAULT_TEXT)
    return MockAsrSocket(engine, tick_s=tick_ms / 1000, recv_delay_s=delay / 1000, sleep=sleep)


def _refusal(status: int) -> UpstreamError:
    message = f"Mock error {status}, as X-Bella-Mock-Status asked."
    if status == 429:
        return UpstreamRateLimited(message, retry_after=1.0)
    if status >= 500:
        return UpstreamServerError(message)
    return UpstreamBadRequest(message, status=status)


def _header_ms(headers: Mapping[str, str], name: str) -> float:
    for key, value in headers.items():
        if key.lower() == name:
            with contextlib.suppress(ValueError):
                return min(max(float(value), 0.0), 60_000.0)
    return 0.0


class NlsSession:
    """`AsrSession` for an NLS-speaking upstream (the mock): commands out, events back."""

    __slots__ = ("_params", "_task_id")

    def __init__(self, params: AsrParams) -> None:
        self._params = params
        self._task_id = new_id()

    def start(self) -> list[Message]:
        return [render_command(Start(self._task_id, self._params))]

    def audio(self, frame: bytes) -> list[Message]:
        return [frame]

    def stop(self) -> tuple[list[Message], list[AsrEvent]]:
        return [render_command(Stop(self._task_id))], []

    def receive(self, message: Message) -> list[AsrEvent]:
        event = parse_event(message) if isinstance(message, str) else None
        return [] if event is None else [event]


class MockAsrAdapter:
    """`AsrStreamAdapter` for the mock (in process, or a standalone mock at a ws:// url)."""

    def asr_target(self, channel: Channel, client_headers: Mapping[str, str]) -> SocketTarget:
        url = channel.url if channel.url.startswith(("ws://", "wss://")) else MOCK_ASR_URL
        return SocketTarget(url=url, headers=mock_headers(channel.options, client_headers))

    def asr_session(self, channel: Channel, params: AsrParams) -> NlsSession:
        return NlsSession(params)
