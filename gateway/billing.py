"""Cost of a request from the channel's price and the usage. Decimal only: no float money."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from adapters.base import Usage

THOUSAND = Decimal(1000)
ZERO = Decimal(0)


def _price(price: Mapping[str, Any], name: str) -> Decimal:
    value = price.get(name)
    return ZERO if value is None else Decimal(str(value))


def chat_cost(price: Mapping[str, Any], usage: Usage) -> Decimal:
    """Per 1k input and output tokens; cached input at `cached_input` when priced."""
    if not price:
        return ZERO
    input_price = _price(price, "input")
    cached_price = _price(price, "cached_input") if "cached_input" in price else input_price
    fresh = usage.prompt_tokens - usage.cached_tokens
    total = (
        fresh * input_price
        + usage.cached_tokens * cached_price
        + usage.completion_tokens * _price(price, "output")
    )
    return total / THOUSAND
