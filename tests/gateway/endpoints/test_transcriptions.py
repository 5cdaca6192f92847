"""POST /v1/audio/transcriptions (multipart, streamed up) and /v1/audio/asr/flash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp
import openai
import orjson
import pytest

from adapters.audio import wav_header
from tests.fakes.audio import wav_bytes
from tests.fakes.openai_media import FakeMedia
from tests.gateway.endpoints.helpers import post, sdk, usage_of
from tests.harness import Gateway, gateway_settings, running_gateway

ENDPOINT = "/v1/audio/transcriptions"
FLASH = "/v1/audio/asr/flash"


async def test_mock_every_response_format(demo: Gateway) -> None:
    audio = ("hello.wav", wav_bytes(4.0))
    async with sdk(demo) as client:
        verbose = await client.audio.transcriptions.create(
            model="mock-asr",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["segment"],
        )
        plain = await client.audio.transcriptions.create(
            model="mock-asr", file=audio, response_format="json"
        )
        text = await client.audio.transcriptions.create(
            model="mock-asr", file=audio, response_format="text"
        )
        srt = await client.audio.transcriptions.create(
            model="mock-asr", file=audio, response_format="srt"
        )
        vtt = await client.audio.transcriptions.create(
            model="mock-asr", file=audio, response_format="vtt"
        )
    assert verbose.duration == pytest.approx(4.0)
    assert verbose.segments
    assert verbose.segments[-1].end == pytest.approx(4.0)
    assert plain.text == verbose.text
    assert text.strip() == verbose.text
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")
    records = await usage_of(demo, ENDPOINT, 5)
    assert {r.cost for r in records} == {Decimal("0.0004")}  # 4 s at 0.0001 a second
    assert not any(r.estimated for r in records)


async def test_openai_upstream_gets_the_file_streamed_with_a_length(
    openai_gw: Gateway, media: FakeMedia
) -> None:
    audio = wav_bytes(3.0)
    async with sdk(openai_gw) as client:
        answer = await client.audio.transcriptions.create(
            model="o-asr",
            file=("a.wav", audio),
            language="en",
            prompt="words",
            response_format="verbose_json",
        )
    assert answer.duration == pytest.approx(3.0)
    upload = media.uploads[-1]
    assert upload["files"]["file"] == ("a.wav", audio)
    assert upload["content_length"] is not None  # a known length, not chunked
    fields = dict(upload["fields"])
    assert (fields["model"], fields["language"], fields["prompt"]) == ("up-o-asr", "en", "words")
    [record] = await usage_of(openai_gw, ENDPOINT)
    assert (record.status, record.cost) == (200, Decimal("1.5"))  # 3 s at 0.5


async def test_text_format_is_billed_from_the_wav_header(openai_gw: Gateway) -> None:
    async with sdk(openai_gw) as client:
        text = await client.audio.transcriptions.create(
            model="o-asr", file=("a.wav", wav_bytes(2.0)), response_format="text"
        )
    assert "fake upstream words" in text
    [record] = await usage_of(openai_gw, ENDPOINT)
    assert (record.cost, record.estimated) == (Decimal("1"), False)


async def test_audio_that_is_not_audio_is_the_upstreams_400(openai_gw: Gateway) -> None:
    async with sdk(openai_gw) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.audio.transcriptions.create(
                model="o-asr", file=("notes.txt", b"just some text, not audio at all")
            )
    assert "Invalid file format" in caught.value.message


async def test_mock_refuses_non_audio_too(demo: Gateway) -> None:
    async with sdk(demo) as client:
        with pytest.raises(openai.BadRequestError):
            await client.audio.transcriptions.create(model="mock-asr", file=("x.txt", b"hello"))


def _form(**files: tuple[str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "mock-asr")
    for name, (filename, data) in files.items():
        form.add_field(name, data, filename=filename, content_type="audio/wav")
    return form


async def test_missing_empty_and_bad_format_are_400(demo: Gateway) -> None:
    status, _, data = await post(demo, ENDPOINT, data=_form())
    assert (status, orjson.loads(data)["error"]["param"]) == (400, "file")
    status, _, data = await post(demo, ENDPOINT, data=_form(file=("a.wav", b"")))
    assert (status, orjson.loads(data)["error"]["code"]) == (400, "empty_file")
    form = _form(file=("a.wav", wav_bytes(0.5)))
    form.add_field("response_format", "xml")
    status, _, data = await post(demo, ENDPOINT, data=form)
    assert (status, orjson.loads(data)["error"]["param"]) == (400, "response_format")
    status, _, _ = await post(demo, ENDPOINT, json={"model": "mock-asr"})
    assert status == 400


async def test_file_over_the_limit_is_413(tmp_path: Path) -> None:
    from gateway.declare import DEMO_CATALOG

    settings = gateway_settings(tmp_path, "", DEMO_CATALOG, BELLA_SERVER_MAX_BODY_BYTES="65536")
    async with running_gateway(settings) as gw:
        status, _, data = await post(gw, ENDPOINT, data=_form(file=("a.wav", wav_bytes(4.0))))
        assert (status, orjson.loads(data)["error"]["code"]) == (413, "request_too_large")
        big = wav_bytes(4.0)
        status, _, _ = await post(gw, FLASH, data=big, model="mock-asr")
        assert status == 413


async def test_a_large_file_goes_through_the_disk_spool(demo: Gateway) -> None:
    async with sdk(demo) as client:
        answer = await client.audio.transcriptions.create(
            model="mock-asr", file=("long.wav", wav_bytes(60.0)), response_format="verbose_json"
        )
    assert answer.duration == pytest.approx(60.0)  # 1.9 MB: past the 1 MiB in memory


async def test_flash_wav_and_pcm(demo: Gateway) -> None:
    status, _headers, data = await post(demo, FLASH, data=wav_bytes(3.0), model="mock-asr")
    assert status == 200, data
    answer = orjson.loads(data)
    assert set(answer) == {"task_id", "user", "flash_result"}
    result = answer["flash_result"]
    assert result["duration"] == 3000
    assert result["sentences"][0]["begin_time"] == 0
    assert result["sentences"][-1]["end_time"] == 3000
    pcm = wav_bytes(2.0)[44:]
    status, _, data = await post(
        demo, FLASH, data=pcm, model="mock-asr", format="pcm", sample_rate="16000"
    )
    assert orjson.loads(data)["flash_result"]["duration"] == 2000
    records = await usage_of(demo, FLASH, 2)
    # per call 0.002, plus nothing per second: flash is priced per call
    assert {r.cost for r in records} == {Decimal("0.002")}


async def test_flash_through_an_openai_channel(openai_gw: Gateway, media: FakeMedia) -> None:
    pcm = b"\x01\x00" * 8000  # 0.5 s at 16 kHz
    status, _, data = await post(openai_gw, FLASH, data=pcm, model="o-asr", format="pcm")
    assert status == 200, data
    assert orjson.loads(data)["flash_result"]["duration"] == 500
    _, sent = media.uploads[-1]["files"]["file"]
    assert sent[:44] == wav_header(len(pcm), rate=16000)
    assert dict(media.uploads[-1]["fields"])["response_format"] == "verbose_json"


async def test_flash_bad_input(demo: Gateway) -> None:
    assert (await post(demo, FLASH, data=b"", model="mock-asr"))[0] == 400
    assert (await post(demo, FLASH, data=b"RIFF"))[0] == 400  # no model
    assert (await post(demo, FLASH, data=b"x", model="mock-asr", format="midi"))[0] == 400
    status, _, _ = await post(demo, FLASH, data=b"not audio", model="mock-asr")
    assert status == 400  # the mock's "Invalid file format", mapped
