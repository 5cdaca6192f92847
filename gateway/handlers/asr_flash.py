"""POST /v1/audio/asr/flash: one short recording in the raw body, parameters in headers.

    curl -H "Authorization: Bearer $KEY" -H "model: mock-asr" -H "format: wav" \\
         -H "sample_rate: 16000" --data-binary @hello.wav …/v1/audio/asr/flash

It is served by the model's transcription channels: the audio goes up as a transcription
with `response_format=verbose_json` (raw `pcm` is given a WAV header first), and the segments
come back as Bella's `{task_id, user, flash_result: {duration, sentences}}` (milliseconds).
Billed per call (`per_call`); the audio seconds are recorded beside it.
"""

from __future__ import annotations

import secrets

import orjson
from aiohttp import web

from adapters.audio import wav_header
from adapters.base_media import AudioForm, Blob
from adapters.errors import UpstreamProtocolError
from adapters.media import transcription_adapter
from adapters.transcript import flash_result
from gateway.auth import authenticate
from gateway.billing import Measure
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import InvalidRequest
from gateway.handlers.media import exchange, json_response
from gateway.handlers.transcriptions import bill_audio, measure
from gateway.keys import REQUEST_ID, SETTINGS
from gateway.metering import Call
from gateway.uploads import PrefixedBlob, SpooledBlob, read_raw

ENDPOINT = "/v1/audio/asr/flash"
FORMATS = frozenset({"wav", "pcm", "mp3", "flac", "ogg", "opus", "webm", "m4a", "aac"})
RATES = frozenset({8000, 16000, 24000, 44100, 48000})


async def asr_flash(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    model = _model(request)
    fmt, rate = _format(request)
    raw = await read_raw(request, limit=request.app[SETTINGS].server.max_body_bytes)
    try:
        if raw.size == 0:
            raise InvalidRequest("The request body holds no audio.", code="empty_file")
        audio = _as_file(raw, fmt, rate)
        fields = [("model", model), ("response_format", "verbose_json")]
        language = request.headers.get("language")
        if language:
            fields.append(("language", language))
        form = AudioForm(audio, tuple(fields))
        call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="asr-flash")
        measured = await measure(audio)

        async def attempt(route: Route) -> web.StreamResponse:
            adapter = transcription_adapter(route.channel.protocol)
            outgoing = adapter.transcription_request(route.channel, form, request.headers)
            status, headers, data = await exchange(request, outgoing, route.call_timeout)
            transcript = adapter.transcription_result(status, headers, data, "verbose_json")
            verbose = _object(transcript.body)
            call.units = Measure(calls=1)
            duration = bill_audio(call, transcript.duration_s, measured)
            answer = {
                "task_id": secrets.token_hex(16),
                "user": key.code,
                "flash_result": flash_result(verbose, duration),
            }
            return json_response(call, orjson.dumps(answer))

        return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))
    finally:
        raw.close()


def _model(request: web.Request) -> str:
    model = (
        request.headers.get("model")
        or request.headers.get("X-Bella-Model")
        or request.query.get("model")
    )
    if not model:
        raise InvalidRequest(
            "Missing the model: send it in a 'model' header (or ?model=).", param="model"
        )
    return model


def _format(request: web.Request) -> tuple[str, int]:
    fmt = (request.headers.get("format") or "wav").lower()
    if fmt not in FORMATS:
        raise InvalidRequest(
            f"Unsupported format '{fmt}': use one of {', '.join(sorted(FORMATS))}.",
            param="format",
        )
    text = request.headers.get("sample_rate") or "16000"
    if not text.isdigit() or int(text) not in RATES:
        rates = ", ".join(str(r) for r in sorted(RATES))
        raise InvalidRequest(f"Unsupported sample_rate '{text}': use one of {rates}.")
    return fmt, int(text)


def _as_file(raw: SpooledBlob, fmt: str, rate: int) -> Blob:
    if fmt == "pcm":
        header = wav_header(raw.size, rate=rate)
        return PrefixedBlob(header, raw, filename="audio.wav", content_type="audio/wav")
    raw.filename = f"audio.{fmt}"
    return raw


def _object(body: bytes) -> dict[str, object]:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise UpstreamProtocolError("The upstream's verbose_json answer is not a JSON object.")
    return answer
