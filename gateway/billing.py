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


@dataclass(frozen=True, slots=True)
class ChatRates:
    """Chat prices per 1k tokens, parsed."""

    input: Decimal
    cached_input: Decimal
    output: Decimal

    @classmethod
    def of(cls, price: Mapping[str, Any]) -> ChatRates:
        input_rate = amount(price, "input")
        return cls(input_rate, amount(price, "cached_input", input_rate), amount(price, "output"))

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> Decimal:
        fresh = max(0, prompt_tokens - cached_tokens)
        total = (
            fresh * self.input + cached_tokens * self.cached_input + completion_tokens * self.output
        )
        return total / THOUSAND


def _tiers(price: Mapping[str, Any]) -> tuple[tuple[int, ChatRates], ...]:
    return tuple(
        (int(tier.get("up_to", 0)), ChatRates.of(tier))
        for tier in price.get("tiers") or ()
        if isinstance(tier, Mapping)
    )


def chat_cost(price: Mapping[str, Any], m: Measure) -> Decimal:
    rates = _tiered(ChatRates.of(price), _tiers(price), m.prompt_tokens)
    return rates.cost(m.prompt_tokens, m.completion_tokens, m.cached_tokens)


def _tiered(
    rates: ChatRates, tiers: tuple[tuple[int, ChatRates], ...], prompt_tokens: int
) -> ChatRates:
    """The first tier the prompt fits in, else the top-level rates."""
    for up_to, tier in tiers:
        if prompt_tokens <= up_to:
            return tier
    return rates


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


CHAT_KINDS = frozenset({"chat", "realtime"})


def cost(kind: str, price: Mapping[str, Any], m: Measure) -> Decimal:
    """The cost of `m` at `price` for an endpoint of `kind`; zero when nothing is priced."""
    if not price:
        return ZERO
    return COSTS[kind](price, m)


class Tariff:
    """A channel's `price`, read once per catalog refresh rather than per request: the chat
    rates are parsed ahead, so a chat's cost is three multiplications. A price that does
    not parse is left to `cost`, which raises when a request uses it."""

    __slots__ = ("_rates", "_tiers", "price")

    def __init__(self, price: Mapping[str, Any]) -> None:
        self.price = price
        self._rates: ChatRates | None = None
        self._tiers: tuple[tuple[int, ChatRates], ...] = ()
        if price:
            try:
                self._rates, self._tiers = ChatRates.of(price), _tiers(price)
            except (ArithmeticError, TypeError, ValueError):  # not a valid price: see `cost`
                self._rates = None

    def tokens(
        self, kind: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int
    ) -> Decimal:
        """The cost of a request billed by tokens alone."""
        if not self.price:
            return ZERO
        rates = self._rates
        if rates is None or kind not in CHAT_KINDS:
            return cost(kind, self.price, Measure(prompt_tokens, completion_tokens, cached_tokens))
        if self._tiers:
            rates = _tiered(rates, self._tiers, prompt_tokens)
        return rates.cost(prompt_tokens, completion_tokens, cached_tokens)

    def cost(self, kind: str, m: Measure) -> Decimal:
        """The cost of a request billed by `m`."""
        if kind in CHAT_KINDS:
            return self.tokens(kind, m.prompt_tokens, m.completion_tokens, m.cached_tokens)
        return cost(kind, self.price, m)


def money_text(value: Decimal) -> str:
    """An amount as plain decimal text without trailing zeros: "3.5", "0", "0.00001"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


FREE = Tariff({})  # no price: every request costs nothing
