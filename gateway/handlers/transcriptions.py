"""POST /v1/audio/transcriptions: OpenAI's multipart form, the file streamed upstream.

The form is read part by part and the file spooled (memory, then a temporary file; 413 past
`server.max_body_bytes`), then sent to the channel as a multipart body streamed from the
spool, so a large file is never in memory whole and a failover can send it again.

Billed per second of audio: the duration the upstream reports (verbose_json's `duration`,
or a json answer's duration usage), else the duration measured from the file's header (WAV,
FLAC, MP3), else an estimate at 128 kbit/s marked `estimated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from adapters.audio import probe_duration
from adapters.base_media import AudioForm, Blob
from adapters.media import transcription_adapter
from adapters.transcript import FORMATS
from gateway.auth import authenticate
from gateway.billing import Measure
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import InvalidRequest
from gateway.handlers.media import bella_headers, exchange, seconds
from gateway.keys import REQUEST_ID, SETTINGS
from gateway.metering import Call
from gateway.uploads import Upload, read_form

ENDPOINT = "/v1/audio/transcriptions"
HEAD_BYTES = 64 * 1024
UNKNOWN_BYTES_PER_SECOND = 16_000


async def transcriptions(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    upload = await read_form(request, limit=request.app[SETTINGS].server.max_body_bytes)
    try:
        form, model, fmt = _checked(upload)
        call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="transcription")
        measured = await measure(form.audio)

        async def attempt(route: Route) -> web.StreamResponse:
            adapter = transcription_adapter(route.channel.protocol)
            outgoing = adapter.transcription_request(route.channel, form, request.headers)
            status, headers, data = await exchange(request, outgoing, route.call_timeout)
            transcript = adapter.transcription_result(status, headers, data, fmt)
            bill_audio(call, transcript.duration_s, measured)
            call.status = 200
            return web.Response(
                body=transcript.body,
                headers={"Content-Type": transcript.content_type, **bella_headers(call)},
            )

        return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))
    finally:
        upload.close()


def _checked(upload: Upload) -> tuple[AudioForm, str, str]:
    files = [part for part in upload.files if part.name == "file"]
    if not files:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")
    if files[0].blob.size == 0:
        raise InvalidRequest("The uploaded file is empty.", param="file", code="empty_file")
    model = upload.field("model")
    if not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    fmt = upload.field("response_format") or "json"
    if fmt not in FORMATS:
        raise InvalidRequest(
            f"'response_format' must be one of {', '.join(sorted(FORMATS))}.",
            param="response_format",
        )
    return AudioForm(files[0].blob, tuple(upload.fields)), model, fmt


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    estimated: bool


async def measure(audio: Blob) -> Measured:
    """The audio's duration from its header (WAV, FLAC, MP3), else estimated from its size."""
    probed = probe_duration(await audio.head(HEAD_BYTES), audio.size)
    if probed is not None:
        return Measured(probed, estimated=False)
    return Measured(audio.size / UNKNOWN_BYTES_PER_SECOND, estimated=True)


def bill_audio(call: Call, reported: float | None, measured: Measured) -> float:
    """Set the call's audio seconds: as the upstream reported them, else as measured."""
    if reported is not None:
        duration = reported
    else:
        duration, call.estimated = measured.seconds, measured.estimated
    calls = call.units.calls if call.units is not None else 0
    call.units = Measure(audio_seconds=seconds(duration), calls=calls)
    return duration
