"""Reading a /metrics scrape: sample values by name and labels, metric names, promtool."""

from __future__ import annotations

import re
import subprocess

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return await response.text()


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0.0 if none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def sample_names(text: str) -> set[str]:
    """Every sample name the exposition can carry, from its TYPE lines."""
    names: set[str] = set()
    for name, kind in _TYPE.findall(text):
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


def promtool_check(promtool: str, text: str) -> None:
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
