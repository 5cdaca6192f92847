"""GET /v1/models: the models the key may use, OpenAI-shaped."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.auth import authenticate
from gateway.errors import NotFound
from gateway.keys import CATALOG
from gateway.store.records import Model


def _entry(model: Model) -> dict[str, object]:
    return {"id": model.name, "object": "model", "created": 0, "owned_by": model.owner or "bella"}


async def list_models(request: web.Request) -> web.Response:
    key = await authenticate(request)
    catalog = request.app[CATALOG]
    data = [
        _entry(m)
        for name, m in sorted(catalog.models.items())
        if catalog.usable(name, key) is not None
    ]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": data}), content_type="application/json"
    )


async def get_model(request: web.Request) -> web.Response:
    key = await authenticate(request)
    catalog = request.app[CATALOG]
    name = request.match_info["model"]
    model = catalog.models.get(name)
    if model is None or catalog.usable(name, key) is None:
        raise NotFound(f"The model '{name}' does not exist.", code="model_not_found")
    return web.Response(body=orjson.dumps(_entry(model)), content_type="application/json")
