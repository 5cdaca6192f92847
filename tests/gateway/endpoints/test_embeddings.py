"""POST /v1/embeddings through the openai SDK: the mock and an OpenAI-protocol upstream."""

from __future__ import annotations

import base64
from array import array
from decimal import Decimal

import openai
import orjson
import pytest

from adapters.mock_embeddings import vector
from tests.fakes.openai_media import FakeMedia
from tests.gateway.endpoints.helpers import post, sdk, usage_of
from tests.harness import Gateway

ENDPOINT = "/v1/embeddings"


async def test_mock_vectors_are_deterministic_and_billed(demo: Gateway) -> None:
    async with sdk(demo) as client:
        first = await client.embeddings.create(model="mock-embedding", input=["hello", "world"])
        again = await client.embeddings.create(
            model="mock-embedding", input="hello", dimensions=16, encoding_format="float"
        )
    assert [d.index for d in first.data] == [0, 1]
    assert len(first.data[0].embedding) == 256
    assert first.data[0].embedding == pytest.approx(vector("hello", 256), abs=1e-6)
    assert again.data[0].embedding == pytest.approx(vector("hello", 16), rel=1e-9)
    assert first.usage.prompt_tokens == 2
    records = await usage_of(demo, ENDPOINT, 2)
    assert {r.channel_code for r in records} == {"ch-mock-embedding"}
    assert sum(r.cost for r in records) == Decimal("0.0000003")  # 3 tokens at 0.0001 per 1k


async def test_base64_is_little_endian_float32(demo: Gateway) -> None:
    body = {"model": "mock-embedding", "input": "hi", "encoding_format": "base64"}
    _, _, data = await post(demo, "/v1/embeddings", json=body)
    raw = base64.b64decode(orjson.loads(data)["data"][0]["embedding"])
    floats = array("f")
    floats.frombytes(raw)
    assert list(floats) == pytest.approx(vector("hi", 256), abs=1e-6)
    assert raw[:4] == array("f", [vector("hi", 256)[0]]).tobytes()


async def test_openai_upstream_gets_deploy_name_and_dimensions(
    openai_gw: Gateway, media: FakeMedia
) -> None:
    async with sdk(openai_gw) as client:
        answer = await client.embeddings.create(model="o-embed", input=["a", "b"], dimensions=4)
    assert len(answer.data) == 2
    assert len(answer.data[0].embedding) == 4
    sent = media.requests[-1]
    assert (sent["model"], sent["dimensions"], sent["input"]) == ("up-o-embed", 4, ["a", "b"])
    [record] = await usage_of(openai_gw, ENDPOINT)
    assert (record.status, record.prompt_tokens, record.cost) == (200, 6, Decimal("0.006"))


@pytest.mark.parametrize(
    "body",
    [
        {"model": "mock-embedding"},
        {"model": "mock-embedding", "input": ""},
        {"model": "mock-embedding", "input": []},
        {"model": "mock-embedding", "input": "x", "encoding_format": "int8"},
        {"model": "mock-embedding", "input": "x", "dimensions": 0},
    ],
)
async def test_bad_bodies_are_400(demo: Gateway, body: dict[str, object]) -> None:
    status, _, data = await post(demo, "/v1/embeddings", json=body)
    assert status == 400
    assert orjson.loads(data)["error"]["type"] == "invalid_request_error"


async def test_model_not_offered_on_embeddings_is_404(demo: Gateway) -> None:
    async with sdk(demo) as client:
        with pytest.raises(openai.NotFoundError):
            await client.embeddings.create(model="mock-chat", input="x")


async def test_upstream_failure_fails_over_then_502(openai_gw: Gateway, media: FakeMedia) -> None:
    media.fail_with = 500
    async with sdk(openai_gw) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.embeddings.create(model="o-embed", input="x")
    assert caught.value.status_code == 502
    [record] = await usage_of(openai_gw, ENDPOINT)
    assert record.status == 502
