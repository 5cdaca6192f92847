"""A fake Azure OpenAI resource: `POST /openai/deployments/{name}/chat/completions`.

Checks as Azure does: the `api-key` header (401 with Azure's wording otherwise), a supported
`api-version` query parameter (404 "Resource not found" otherwise, as Azure answers), an
existing deployment (404 `DeploymentNotFound`). Answers carry Azure's content-filter
annotations: `prompt_filter_results` in a first chunk without choices, and
`content_filter_results` on each choice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.compatible import (
    check_chat_body,
    chunks,
    completion,
    json_response,
    planned,
    write_stream,
)
from tests.fakes.vendor import BadRequest, FakeVendor

API_KEY = "azure-fake-key-0123456789"
DEPLOYMENT = "gpt-4o-deploy"
API_VERSIONS = frozenset({"2024-06-01", "2024-10-21", "2025-01-01-preview"})
FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


@dataclass
class FakeAzure(FakeVendor):
    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [
            ("/openai/deployments/{deployment}/chat/completions", self._chat),
            ("/openai/v1/chat/completions", self._chat),
        ]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        refusal = refused(request)
        if refusal is not None:
            return refusal
        deployment = request.match_info.get("deployment")
        body = orjson.loads(await request.read())
        self.record(request, body)
        if (deployment or body.get("model")) != DEPLOYMENT:
            error = {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
            return json_response({"error": error}, 404)
        try:
            check_chat_body(body, model_required=deployment is None)
        except BadRequest as exc:
            invalid = {"code": "BadRequest", "message": str(exc), "param": None, "type": None}
            return json_response({"error": invalid}, 400)
        if self.fail_with is not None:
            error = {"code": str(self.fail_with), "message": f"fake failure {self.fail_with}"}
            headers = {"retry-after-ms": "1500"} if self.fail_with == 429 else {}
            return json_response({"error": error}, self.fail_with, **headers)
        call = planned(body)
        filters = {"content_filter_results": FILTERS}
        prompt_filters = [{"prompt_index": 0, "content_filter_results": FILTERS}]
        if not body.get("stream"):
            answer = completion(body, call, choice_extra=filters)
            return json_response({**answer, "prompt_filter_results": prompt_filters})
        events = chunks(body, call)
        for event in events:
            for choice in event["choices"]:
                choice.update(filters)
        first = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                 "prompt_filter_results": prompt_filters}  # fmt: skip
        return await write_stream(request, [first, *events])


def refused(request: web.Request) -> web.Response | None:
    """Azure's answer to a wrong `api-key`, or to a deployment URL without a known version."""
    if request.headers.get("api-key") != API_KEY:
        message = (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
            "to provide a valid key for an active subscription and use a correct regional "
            "API endpoint for your resource."
        )
        return json_response({"error": {"code": "401", "message": message}}, 401)
    deployment = request.match_info.get("deployment")
    if deployment is not None and request.query.get("api-version") not in API_VERSIONS:
        return json_response({"error": {"code": "404", "message": "Resource not found"}}, 404)
    return None
