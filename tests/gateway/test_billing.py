"""Costs per endpoint kind, against amounts computed by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.billing import Measure, Tariff, cost

D = Decimal
CHAT = {"input": "2.5", "output": "10", "cached_input": "1.25"}
TIERED = {
    "input": "4",
    "output": "16",
    "tiers": [
        {"up_to": 1000, "input": "1", "output": "2"},
        {"up_to": 8000, "input": "2", "output": "8"},
    ],
}
IMAGES = {"per_image": {"1024x1024/hd": "0.08", "1024x1024": "0.04", "default": "0.02"}}


@pytest.mark.parametrize(
    ("kind", "price", "measure", "expected"),
    [
        # 1000 fresh x 2.5/1k + 500 out x 10/1k = 2.5 + 5
        ("chat", CHAT, Measure(prompt_tokens=1000, completion_tokens=500), D("7.5")),
        # 600 fresh x 2.5/1k + 400 cached x 1.25/1k + 100 out x 10/1k = 1.5 + 0.5 + 1
        (
            "chat",
            CHAT,
            Measure(prompt_tokens=1000, completion_tokens=100, cached_tokens=400),
            D("3"),
        ),
        # no cached price: cached tokens cost as input: 1000 x 2.5/1k
        ("chat", {"input": "2.5"}, Measure(prompt_tokens=1000, cached_tokens=400), D("2.5")),
        # first tier: 1000 x 1/1k + 10 x 2/1k
        ("chat", TIERED, Measure(prompt_tokens=1000, completion_tokens=10), D("1.02")),
        # second tier: 5000 x 2/1k + 1000 x 8/1k
        ("chat", TIERED, Measure(prompt_tokens=5000, completion_tokens=1000), D("18")),
        # beyond the tiers: 10000 x 4/1k + 1 x 16/1k
        ("chat", TIERED, Measure(prompt_tokens=10000, completion_tokens=1), D("40.016")),
        ("embedding", {"input": "0.02"}, Measure(prompt_tokens=12345), D("0.2469")),
        ("speech", {"per_10k_chars": "0.15"}, Measure(characters=2500), D("0.0375")),
        ("transcription", {"per_second": "0.0001"}, Measure(audio_seconds=D("61.5")), D("0.00615")),
        ("asr-stream", {"per_second": "0.0002"}, Measure(audio_seconds=D("10")), D("0.002")),
        ("asr-flash", {"per_call": "0.003"}, Measure(calls=1), D("0.003")),
        (
            "image-generation",
            IMAGES,
            Measure(
                images=(("1024x1024", "hd", 2), ("1024x1024", "standard", 1), ("512x512", "", 3))
            ),
            D("0.26"),  # 2 x 0.08 + 0.04 + 3 x 0.02
        ),
        ("image-edit", {"per_image": "0.05"}, Measure(images=(("256x256", "", 2),)), D("0.1")),
        ("chat", {}, Measure(prompt_tokens=10**6), D(0)),
    ],
)
def test_costs(kind: str, price: dict[str, Any], measure: Measure, expected: Decimal) -> None:
    assert cost(kind, price, measure) == expected
    assert Tariff(price).cost(kind, measure) == expected  # the price parsed once, per channel


def test_a_tariff_bills_tokens_as_the_price_says() -> None:
    tiered = Tariff(TIERED)
    assert tiered.tokens("chat", 5000, 1000, 0) == D("18")  # the second tier
    assert tiered.tokens("embedding", 1000, 0, 0) == D("4")  # embeddings: input per 1k
    assert Tariff({}).tokens("chat", 10**6, 10**6, 0) == D(0)


def test_a_tariff_of_a_price_that_does_not_parse_fails_when_used_not_when_built() -> None:
    tariff = Tariff({"input": "abc"})  # a catalog refresh must not fail on it
    with pytest.raises(ArithmeticError):
        tariff.tokens("chat", 10, 10, 0)


def test_money_never_goes_through_float() -> None:
    price = {"input": "0.1", "output": "0.2"}
    total = sum((cost("chat", price, Measure(1000, 1000)) for _ in range(10)), D(0))
    assert total == D("3")
    assert isinstance(total, Decimal)


def test_price_tables_from_the_catalog_keep_their_shape() -> None:
    from gateway.declare import _channel

    row = _channel(
        {
            "model": "img",
            "protocol": "mock",
            "url": "mock://local",
            "price": {
                "per_image": {"1024x1024/hd": 0.08, "default": "0.02"},
                "tiers": [{"up_to": 1000, "input": 1}],
            },
        }
    )
    assert row.price == {
        "per_image": {"1024x1024/hd": "0.08", "default": "0.02"},
        "tiers": [{"up_to": "1000", "input": "1"}],
    }
    measure = Measure(images=(("1024x1024", "hd", 1), ("64x64", "", 1)))
    assert cost("image-generation", row.price, measure) == D("0.10")


@pytest.mark.parametrize("bad", ["abc", "-1", "NaN", "Infinity", True, None])
def test_a_price_that_is_not_an_amount_is_refused(bad: object) -> None:
    from gateway.declare import CatalogError, _channel

    entry = {"model": "m", "protocol": "mock", "url": "mock://local", "price": {"input": bad}}
    with pytest.raises(CatalogError, match="price"):
        _channel(entry)
