"""Cost of a request from its channel's `price` and what it used. Decimal only: no float money.

Price shapes, per endpoint kind (amounts are strings or numbers, read as Decimal):

- chat, messages, realtime: `input`, `output` per 1k tokens, optional `cached_input` per 1k
  cached prompt tokens (else `input`), optional `tiers`: a list of `{up_to: N, input, output,
  cached_input}` by prompt length; the first tier whose `up_to` ≥ the prompt tokens applies,
  and prompts beyond every tier use the top-level prices.
- embedding: `input` per 1k tokens.
- speech: `per_10k_chars`.
- transcription, asr-stream: `per_second` of audio.
- asr-flash: `per_call`.
- image-generation, image-edit: `per_image`, either one amount or a table keyed by
  `"{size}/{quality}"`, `"{size}"` or `"default"`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

THOUSAND = Decimal(1000)
TEN_THOUSAND = Decimal(10_000)
ZERO = Decimal(0)


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class Measure:
    """What one request used, in the units prices are quoted in."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    characters: int = 0
    audio_seconds: Decimal = ZERO
    calls: int = 0
    images: tuple[tuple[str, str, int], ...] = ()  # (size, quality, count)


@functools.lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    """A price's text as a Decimal, parsed once (prices are few, requests many)."""
    return Decimal(text)


def amount(price: Mapping[str, Any], name: str, default: Decimal = ZERO) -> Decimal:
    value = price.get(name)
    if value is None or isinstance(value, dict | list):  # prices are parsed JSON/YAML
        return default
    return _decimal(value if isinstance(value, str) else str(value))


def _tier(price: Mapping[str, Any], prompt_tokens: int) -> Mapping[str, Any]:
    for tier in price.get("tiers") or ():
        if isinstance(tier, Mapping) and prompt_tokens <= int(tier.get("up_to", 0)):
            return tier
    return price


def chat_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    rates = _tier(price, m.prompt_tokens)
    input_rate = amount(rates, "input")
    cached_rate = amount(rates, "cached_input", input_rate)
    fresh = max(0, m.prompt_tokens - m.cached_tokens)
    total = (
        fresh * input_rate
        + m.cached_tokens * cached_rate
        + m.completion_tokens * amount(rates, "output")
    )
    return total / THOUSAND


def embedding_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    return m.prompt_tokens * amount(price, "input") / THOUSAND


def speech_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    return m.characters * amount(price, "per_10k_chars") / TEN_THOUSAND


def audio_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    return m.audio_seconds * amount(price, "per_second")


def call_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    return m.calls * amount(price, "per_call")


def image_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    table = price.get("per_image")
    total = ZERO
    for size, quality, count in m.images:
        if isinstance(table, Mapping):
            rate = amount(table, f"{size}/{quality}", amount(table, size, amount(table, "default")))
        else:
            rate = amount(price, "per_image")
        total += count * rate
    return total


COSTS: dict[str, Callable[[Mapping[str, Any], Measure], Decimal]] = {
    "chat": chat_cost,
    "realtime": chat_cost,
    "embedding": embedding_cost,
    "speech": speech_cost,
    "transcription": audio_cost,
    "asr-stream": audio_cost,
    "asr-flash": call_cost,
    "image-generation": image_cost,
    "image-edit": image_cost,
}


def cost(kind: str, price: Mapping[str, Any], m: Measure) -> Decimal:
    """The cost of `m` at `price` for an endpoint of `kind`; zero when nothing is priced."""
    if not price:
        return ZERO
    return COSTS[kind](price, m)


def money_text(value: Decimal) -> str:
    """An amount as plain decimal text without trailing zeros: "3.5", "0", "0.00001"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
