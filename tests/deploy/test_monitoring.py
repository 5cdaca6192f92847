"""The alert rules, scrape configs and Grafana dashboard: valid, and only exported metrics."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from gateway.metrics import Metrics
from gateway.settings import load_settings
from tests.deploy.tools import promtool
from tests.gateway.observability.scrape import sample_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "bella-gateway.json"
METRIC = re.compile(r"\bbella_[a-z0-9_]+")


def exported() -> set[str]:
    return sample_names(Metrics().render().decode())


def dashboard_exprs() -> list[str]:
    dashboard: dict[str, Any] = orjson.loads(DASHBOARD.read_bytes())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_pass_promtool() -> None:
    run(promtool(), "check", "rules", str(ALERTS))


@pytest.mark.parametrize("config", ["prometheus.yml", "compose.yml"])
def test_scrape_configs_pass_promtool(config: str) -> None:
    run(promtool(), "check", "config", str(DEPLOY / "prometheus" / config))


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_they_use_is_exported(source: str) -> None:
    exprs = dashboard_exprs() if source == "dashboard" else alert_exprs()
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert len(used) >= 10
    assert used <= exported(), f"not exported: {sorted(used - exported())}"


def test_the_dashboard_covers_what_sres_watch() -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    for needed in (
        "bella_requests_total",
        "bella_request_duration_seconds_bucket",
        "bella_time_to_first_token_seconds_bucket",
        "bella_gateway_overhead_seconds_bucket",
        "bella_queue_depth",
        "bella_queue_wait_seconds_bucket",
        "bella_channel_slots_in_use",
        "bella_channel_slots_limit",
        "bella_channel_cooldown_seconds",
        "bella_tokens_total",
        "bella_cost_total",
    ):
        assert needed in used
    panels = orjson.loads(DASHBOARD.read_bytes())["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))


def test_the_example_config_loads() -> None:
    settings = load_settings(str(DEPLOY / "bella.example.yaml"), {})
    assert settings.server.shutdown_timeout_s > 0
    assert settings.logs.requests == "stdout"
