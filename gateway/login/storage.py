"""Session storage in Redis for aiohttp-session: the cookie holds a random id, nothing else.

aiohttp-session's own `RedisStorage` takes a plain `Redis` client only; this one takes ours
(plain or cluster), stores orjson, and can `discard` a session id (used when a login replaces
the session it came with, so a fixed id never becomes a logged-in one).

A session is the key `bella:session:<id>` with a TTL of `max_age` (the idle timeout: every
write renews it). Redis failures become 503s: no session can be trusted meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from redis.exceptions import RedisError

from gateway.errors import ServiceUnavailable
from ratelimit import RedisClient

PREFIX = "bella:session:"


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("The gateway cannot reach Redis for console sessions.") from exc


class RedisSessionStorage(AbstractStorage):
    def __init__(
        self, client: RedisClient, *, cookie_name: str, max_age: int, secure: bool
    ) -> None:
        super().__init__(
            cookie_name=cookie_name,
            max_age=max_age,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        self._client = client

    async def load_session(self, request: web.Request) -> Session:
        sid = self.load_cookie(request)
        if not sid or len(sid) > 100:
            return self._fresh()
        with _unavailable():
            raw = await self._client.get(PREFIX + sid)
        if raw is None:
            return self._fresh()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._fresh()
        return Session(sid, data=data, new=False, max_age=self.max_age)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        sid = session.identity
        if session.empty:
            if sid is not None:
                await self.discard(str(sid))
            self.save_cookie(response, "", max_age=session.max_age)
            return
        sid = str(sid) if sid is not None else secrets.token_urlsafe(32)
        data = orjson.dumps(self._get_session_data(session))
        with _unavailable():
            await self._client.set(PREFIX + sid, data, ex=self.max_age)
        self.save_cookie(response, sid, max_age=session.max_age)

    async def discard(self, sid: str) -> None:
        with _unavailable():
            await self._client.delete(PREFIX + sid)

    def _fresh(self) -> Session:
        return Session(None, data=None, new=True, max_age=self.max_age)
