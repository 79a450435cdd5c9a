"""The Prometheus config and the Grafana dashboard read only what the real API exports."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.settings import REPO_ROOT, Settings

MONITORING = REPO_ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "rakuten-api.json"
METRIC = re.compile(r"\brakuten_api_[a-z_]+")
NEEDED_PANELS = (
    "requests per second",
    "error rate",
    "p50 / p95 / p99",
    "predictions by class",
    "served model version",
    "write failures",
    "reloads",
)


def exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_dashboard_has_every_panel_on_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    assert all(needed in titles for needed in NEEDED_PANELS), titles
    datasources = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} <= uids
    provider = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_every_metric_the_dashboard_queries_is_exported_by_the_api(
    client: TestClient, settings: Settings
) -> None:
    product = {"designation": "Piscine tubulaire ronde"}
    client.post("/predict", json=product)
    client.post("/predict/batch", json={"products": [product]})
    client.post("/predict", json={"designation": " "})
    scrape = client.get("/metrics").text
    exported = {s.name for f in text_string_to_metric_families(scrape) for s in f.samples}
    queried = {name for expr in exprs() for name in METRIC.findall(expr)}
    assert queried, "the dashboard queries no API metric"
    assert queried <= exported, f"not exported: {sorted(queried - exported)}"

    prometheus = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "api"]
    assert client.get(job["metrics_path"]).status_code == 200
    (target,) = job["static_configs"][0]["targets"]
    assert target.split(":")[1] == str(urlsplit(Settings().api_url).port)
