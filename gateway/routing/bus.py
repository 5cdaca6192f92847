"""The routing bus: slot releases and cooldowns shared between gateway processes by Redis.

Messages on the pub/sub channel `bella:routing` (text, the channel code last, since a code
may hold any character):

    f|<process>|<code>          a slot of <code> was freed (published by the release script)
    c|<process>|<ms>|<code>     <code> cools down for <ms> milliseconds from now

A cooldown is also a key `bella:{ch:<code>}:cool` with a PX TTL, so a process that was not
listening (starting, or reconnecting after a Redis outage) reads the running cooldowns of
its channels when it (re)subscribes. Each process keeps its own copy of the cooldowns: the
request path never asks Redis about health. A process ignores its own messages.

Cooldowns are written and read by scripts through the request path's script client (the
lean `FastRedis` on a plain Redis). Pub/sub uses its own plain redis-py connection (on
Redis Cluster: to the seed node of the URL; a classic PUBLISH reaches every node). Lost
messages cost a wake-up, never correctness: the queue re-polls, and cooldowns are re-read
on every reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.routing.quietlog import QuietLog
from ratelimit import ScriptClient
from ratelimit.redis import run_script

log = logging.getLogger(__name__)

CHANNEL = "bella:routing"
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0

#: KEYS: cooldown key. ARGV: ms, bus channel, message -> 1 set (and published), 0 a longer
#: cooldown already runs.
COOL = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""

#: KEYS: cooldown key -> its PTTL (a script, so that every script client can run it).
PTTL = "return redis.call('PTTL', KEYS[1])"


def cool_key(code: str) -> str:
    return f"bella:{{ch:{code}}}:cool"


def freed(process: str, code: str) -> str:
    return f"f|{process}|{code}"


def cooled(process: str, ms: int, code: str) -> str:
    return f"c|{process}|{ms}|{code}"


class Listener:
    """What the bus calls back: in-process effects only, none of them awaits."""

    def __init__(
        self,
        on_free: Callable[[str], None],
        on_cool: Callable[[str, float], None],
        on_connect: Callable[[], None],
    ) -> None:
        self.on_free = on_free
        self.on_cool = on_cool
        self.on_connect = on_connect


def dispatch(data: bytes, process: str, listener: Listener) -> None:
    """Apply one bus message; malformed ones and our own are ignored."""
    text = data.decode("utf-8", "replace")
    kind, _, rest = text.partition("|")
    sender, _, rest = rest.partition("|")
    if sender == process:
        return
    if kind == "f" and rest:
        listener.on_free(rest)
    elif kind == "c":
        ms, _, code = rest.partition("|")
        if code and ms.isdigit():
            listener.on_cool(code, int(ms) / 1000)


class Bus:
    def __init__(
        self,
        client: ScriptClient,
        pubsub_client: Callable[[], Redis],
        *,
        process: str,
        listener: Listener,
    ) -> None:
        self._pubsub_client = pubsub_client
        self.process = process
        self._listener = listener
        self._cool = client.register_script(COOL)
        self._pttl = client.register_script(PTTL)
        self._log = QuietLog(log)
        self.connected = False

    async def share_cooldown(self, code: str, seconds: float) -> None:
        ms = max(round(seconds * 1000), 1)
        message = cooled(self.process, ms, code)
        await run_script(self._cool, [cool_key(code)], [ms, CHANNEL, message])

    async def running_cooldowns(self, codes: Iterable[str]) -> dict[str, float]:
        """Seconds left of every running cooldown among `codes`."""
        left: dict[str, float] = {}
        for code in codes:
            ms = await run_script(self._pttl, [cool_key(code)], [])
            if ms > 0:
                left[code] = ms / 1000
        return left

    async def listen_forever(self) -> None:
        """Subscribe, dispatch, and on any failure reconnect with a capped backoff."""
        delay = RECONNECT_MIN_S
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                self._log.warning("routing bus: Redis pub/sub failed (%r); reconnecting", exc)
            delay = RECONNECT_MIN_S if self.connected else min(delay * 2, RECONNECT_MAX_S)
            self.connected = False
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        client = self._pubsub_client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self.connected = True
            self._listener.on_connect()
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and isinstance(message.get("data"), bytes):
                    dispatch(message["data"], self.process, self._listener)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8.2
            await client.aclose()
