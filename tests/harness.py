"""Running the real gateway app on loopback for integration tests."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet

from gateway.apikeys import make_key
from gateway.app import create_app
from gateway.database import open_configured_store
from gateway.keys import STORE, USAGE
from gateway.settings import Settings, load_settings
from gateway.store.base import Store
from gateway.store.records import UsageRecord


@dataclasses.dataclass
class Gateway:
    app: web.Application
    server: TestServer
    key: str

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def usage(self) -> list[UsageRecord]:
        await self.app[USAGE].flush()
        return await self.store.list_usage(limit=1000)

    async def new_key(self, role: str = "low", **limits: Any) -> str:
        secret, row = make_key(name=f"test-{role}", role=role, **limits)
        await self.store.insert_apikey(row)
        return secret


def gateway_settings(
    data_dir: Path, database_url: str = "", catalog: dict[str, Any] | None = None, **env: str
) -> Settings:
    environ = {"BELLA_SERVER_DATA_DIR": str(data_dir), "BELLA_USAGE_FLUSH_INTERVAL_S": "0.05"}
    if database_url:
        environ["BELLA_DATABASE_URL"] = database_url
        environ["BELLA_SECRETS_MASTER_KEY"] = Fernet.generate_key().decode()
    environ.update(env)
    settings = load_settings(None, environ)
    return dataclasses.replace(settings, catalog=catalog or {})


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    if not settings.embedded:
        store = await open_configured_store(settings)
        try:
            await store.migrate()
        finally:
            await store.close()
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        secret, row = make_key(name="system", role="all")
        await app[STORE].insert_apikey(row)
        yield Gateway(app=app, server=server, key=secret)
    finally:
        await server.close()


def chat_channel(url: str, api_key: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-test",
        "protocol": "openai",
        "url": url,
        "credentials": {"api_key": api_key},
        "deploy_name": "gpt-upstream",
        "price": {"input": "1", "output": "2"},
        **fields,
    }


def chat_catalog(*channels: dict[str, Any]) -> dict[str, Any]:
    return {"models": [{"name": "gpt-test"}], "channels": list(channels)}
