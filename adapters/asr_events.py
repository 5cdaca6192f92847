"""Streaming recognition events, normalised: what every ASR adapter's session yields.

They follow the Aliyun NLS transcriber the client protocol copies (`adapters/nls.py`
renders them): a session is Started, then sentences, each a SentenceBegin, any number of
ResultChanged (the growing text) and a SentenceEnd; then Completed, or Failed at any point.
Times are milliseconds of audio from the session's start. Status codes are NLS's.
"""

from __future__ import annotations

from dataclasses import dataclass

SUCCESS = 20000000
CLIENT_ERROR = 40000000
INVALID_MESSAGE = 40000002
INVALID_PARAMETER = 40000003
IDLE_TIMEOUT = 40000004
UNSUPPORTED_FORMAT = 41010101
SERVER_ERROR = 50000000
UPSTREAM_ERROR = 50000001
BACKLOG_EXCEEDED = 50000002  # the gateway's own: the upstream does not keep up with the audio


@dataclass(frozen=True, slots=True)
class Started:
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class SentenceBegin:
    index: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class ResultChanged:
    index: int
    time_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class SentenceEnd:
    index: int
    time_ms: int
    begin_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class Completed:
    pass


@dataclass(frozen=True, slots=True)
class Failed:
    status: int
    message: str


AsrEvent = Started | SentenceBegin | ResultChanged | SentenceEnd | Completed | Failed
