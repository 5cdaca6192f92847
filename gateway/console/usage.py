"""/console/usage: a month's totals by key, model, channel and day, as JSON or CSV."""

from __future__ import annotations

import calendar
import csv
import io
import re
from typing import cast

from aiohttp import web

from gateway.billing import money_text
from gateway.console.guard import console_actor
from gateway.errors import InvalidRequest
from gateway.handlers.apikeys import json_response
from gateway.keys import STORE
from gateway.quota import current_month
from gateway.routes import add_route
from gateway.store.records import ReportGroup, UsageTotal

GROUPS = {"key": "apikey_code", "model": "model", "channel": "channel_code", "day": "day"}
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(month: str) -> tuple[float, float]:
    match = MONTH.match(month)
    if match is None:
        raise InvalidRequest("'month' must look like 2026-11.", param="month")
    year, number = int(match[1]), int(match[2])
    start = calendar.timegm((year, number, 1, 0, 0, 0))
    end = calendar.timegm((year + number // 12, number % 12 + 1, 1, 0, 0, 0))
    return float(start), float(end)


def _row(total: UsageTotal) -> dict[str, object]:
    return {
        "group": total.group,
        "requests": total.requests,
        "prompt_tokens": total.prompt_tokens,
        "completion_tokens": total.completion_tokens,
        "cost": money_text(total.cost),
    }


def _csv(by: str, totals: list[UsageTotal]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by, "requests", "prompt_tokens", "completion_tokens", "cost"])
    for t in totals:
        cost = money_text(t.cost)
        writer.writerow([t.group, t.requests, t.prompt_tokens, t.completion_tokens, cost])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="usage-{by}.csv"'},
    )


async def usage(request: web.Request) -> web.Response:
    await console_actor(request)
    month = request.query.get("month") or current_month()
    start, end = month_range(month)
    by = request.query.get("by", "key")
    if by not in GROUPS:
        raise InvalidRequest(f"'by' must be one of {', '.join(GROUPS)}.", param="by")
    totals = await request.app[STORE].usage_totals(start, end, cast(ReportGroup, GROUPS[by]))
    if request.query.get("format") == "csv":
        return _csv(by, totals)
    return json_response({"month": month, "by": by, "data": [_row(t) for t in totals]})


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console/usage", usage)
