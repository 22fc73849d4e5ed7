"""deploy/prometheus and deploy/grafana: the alert rules and the dashboard parse, and every metric they name
is served by some service's GET /metrics (so they cannot drift from the code)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from compressor_contracts import SERVICES
from compressor_kit.http import create_app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus/alerts.yml"
DASHBOARDS = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
REQUIRED_ALERTS = {
    "ServiceDown",
    "OutboxBacklogOld",
    "OutboxEventsStuck",
    "DeadLettersRising",
    "ConsumerPausedForOutage",
    "SlaBreached",
    "BackupTooOld",
}
# Samples a family of each type serves, by suffix (the text format's names).
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}
PROMETHEUS_OWN = {"up"}  # recorded by Prometheus for every target


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def expressions() -> list[str]:
    found = [rule["expr"] for rule in rules()]
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [target["expr"] for target in panel.get("targets", [])]
    return found


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: identifiers followed by a selector, a range or nothing, not
    functions, label names in `by (...)` or keywords."""
    without_labels = re.sub(r"\{[^}]*\}", "{}", re.sub(r"(by|without) \([^)]*\)", "", expr))
    without_strings = re.sub(r'"[^"]*"', "", without_labels)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_strings))
    return {name for name in names if name.startswith("compressor_") or name in PROMETHEUS_OWN}


def test_the_alert_rules_parse_with_the_required_keys_and_alerts():
    found = rules()
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in found}
    for rule in found:
        assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
        assert metric_names(rule["expr"]), rule


def test_prometheus_scrapes_every_service_where_it_listens_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "compressor"]
    scraped = {static["labels"]["service"]: static["targets"] for static in job["static_configs"]}
    for service in SERVICES:
        port = importlib.import_module(f"{service}_service.app").SERVICE.default_port
        assert scraped[service] == [f"{service}:{port}"]


def test_the_dashboard_uses_the_provisioned_data_source():
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    [uid] = [source["uid"] for source in sources["datasources"]]
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"]
        targets = [t for panel in dashboard["panels"] for t in panel.get("targets", [])]
        assert targets and all(t["datasource"]["uid"] == uid and t["expr"] for t in targets)


@pytest.fixture
async def served_metrics(test_settings) -> set[str]:
    """Every sample name the services' /metrics can serve (a family's, with its type's suffixes)."""
    names: set[str] = set()
    for service in SERVICES:
        definition = importlib.import_module(f"{service}_service.app").SERVICE
        app = create_app(definition, test_settings)
        # Not started: the route scrapes the runtime's registry and samples the (empty) test database.
        answer = await AsyncTestClient(app).get("/metrics")
        assert answer.status_code == 200, (service, answer.text)
        for family in text_string_to_metric_families(answer.text):
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


async def test_every_metric_the_rules_and_the_dashboard_name_is_served_by_a_service(served_metrics):
    named = set().union(*(metric_names(expr) for expr in expressions())) - PROMETHEUS_OWN
    assert {"compressor_outbox_pending_events", "compressor_dispatch_sla_jobs"} <= named  # the parsing works
    assert named - served_metrics == set(), "named in deploy/ but served by no service"


def test_compose_runs_prometheus_and_grafana_with_this_config_read_only_on_this_host_only():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = {
        "prometheus": {
            "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro",
        },
        "grafana": {
            "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
            "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
        },
    }
    for name, config in mounts.items():
        service = services[name]
        assert config <= set(service["volumes"]), name
        assert service["ports"] and all(str(port).startswith("127.0.0.1:") for port in service["ports"]), name
    grafana = services["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/compressor.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
