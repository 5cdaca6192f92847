"""The per-endpoint Protocols beside chat: embeddings, audio, images, realtime sockets.

Like `ChatAdapter`, each is sans-I/O: it turns what the client sent into a description of the
upstream call (`UpstreamRequest`, `UpstreamForm` for multipart, `SocketTarget` for a
WebSocket) and upstream bytes or messages into client bytes plus what to bill. Uploaded files
reach an adapter as `Blob`s the gateway holds (spooled to disk); an adapter only names them
in a form, the gateway streams them. The mock is the one adapter that reads blobs itself: it
is the upstream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.asr_events import AsrEvent
from adapters.base import Channel, UpstreamRequest, Usage
from adapters.errors import UpstreamError

Message = str | bytes  # one WebSocket message: text or binary


class UnsupportedProtocol(UpstreamError):
    """The channel's protocol has no adapter for this endpoint (a catalog mistake)."""

    status = 502
    code = "unsupported_protocol"


class Blob(Protocol):
    """An uploaded file the gateway holds; read in chunks, never whole."""

    filename: str
    content_type: str
    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def head(self, limit: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FilePart:
    name: str  # the form field, e.g. "file", "image[]", "mask"
    blob: Blob


@dataclass(frozen=True, slots=True)
class UpstreamForm:
    """A multipart/form-data POST; the gateway streams each file part from its blob."""

    url: str
    headers: Mapping[str, str]
    fields: tuple[tuple[str, str], ...]
    files: tuple[FilePart, ...]


@dataclass(frozen=True, slots=True)
class SocketTarget:
    """Where and how to open an upstream WebSocket."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    protocols: tuple[str, ...] = ()


class MessageSocket(Protocol):
    """An open upstream WebSocket, as the relay sees it (aiohttp's, or the in-process mock)."""

    close_code: int | None
    close_reason: str

    async def send(self, message: Message) -> None: ...

    async def receive(self) -> Message | None:
        """The next text or binary message; None once the socket is closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class JsonResult:
    """A complete JSON answer: the bytes for the client and the usage to bill."""

    body: bytes
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A transcription answer: the client's bytes in its format, the audio's length if known."""

    body: bytes
    content_type: str
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class AudioForm:
    """A transcription request: the audio and the client's other form fields, in order."""

    audio: Blob
    fields: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def replaced(self, name: str, value: str) -> AudioForm:
        kept = tuple((k, v) for k, v in self.fields if k != name)
        return AudioForm(self.audio, (*kept, (name, value)))


@dataclass(frozen=True, slots=True)
class ImageForm:
    """An image edit: the images, the optional mask, and the other fields in order."""

    images: tuple[FilePart, ...]
    mask: Blob | None
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AsrParams:
    """A streaming recognition session's settings, from the client's StartTranscription."""

    format: str = "pcm"
    sample_rate: int = 16000
    intermediate: bool = True
    punctuation: bool = True
    language: str = ""
    max_sentence_silence_ms: int = 800
    extra: Mapping[str, Any] = field(default_factory=dict)


class EmbeddingAdapter(Protocol):
    def embedding_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest: ...

    def embedding_result(self, status: int, headers: Mapping[str, str], data: bytes) -> JsonResult:
        """The answer for the client; raises the mapped `UpstreamError` for a failure."""


class SpeechAdapter(Protocol):
    def speech_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest: ...

    def speech_error(self, status: int, headers: Mapping[str, str], data: bytes) -> UpstreamError:
        """The error a non-2xx speech answer stands for (its body is small: read whole)."""


class TranscriptionAdapter(Protocol):
    def transcription_request(
        self, channel: Channel, form: AudioForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm: ...

    def transcription_result(
        self, status: int, headers: Mapping[str, str], data: bytes, response_format: str
    ) -> Transcript: ...


class ImageAdapter(Protocol):
    def image_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest: ...

    def image_edit_request(
        self, channel: Channel, form: ImageForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm: ...

    def image_result(
        self, status: int, headers: Mapping[str, str], data: bytes
    ) -> list[dict[str, Any]]:
        """The upstream's `data` items (each with `b64_json` or `url`)."""


class AsrSession(Protocol):
    """One streaming recognition session's wire format, sans-I/O.

    `start` and `audio` return the messages to send upstream; `stop` those and any events
    for the client it settles at once (Completed, when nothing is pending); `receive` turns
    one upstream message into the normalised events for the client.
    """

    def start(self) -> list[Message]: ...

    def audio(self, frame: bytes) -> list[Message]: ...

    def stop(self) -> tuple[list[Message], list[AsrEvent]]: ...

    def receive(self, message: Message) -> list[AsrEvent]: ...


class AsrStreamAdapter(Protocol):
    def asr_target(self, channel: Channel, client_headers: Mapping[str, str]) -> SocketTarget: ...

    def asr_session(self, channel: Channel, params: AsrParams) -> AsrSession: ...


class RealtimeMeter(Protocol):
    usage: Usage | None

    def feed(self, message: str) -> None:
        """Read one upstream text message as it passes (it is relayed unchanged)."""


class RealtimeAdapter(Protocol):
    def realtime_target(
        self, channel: Channel, query: Mapping[str, str], client_headers: Mapping[str, str]
    ) -> SocketTarget: ...

    def realtime_meter(self) -> RealtimeMeter: ...
