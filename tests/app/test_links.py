"""Which URL each tool link opens: where the service is published, never a container's name."""

from __future__ import annotations

from typing import Any

from app.links import links_from
from app.records import ServiceInfo


class _Managers:
    """Only what links_from reads of the composition root."""

    def __init__(self, prometheus_url: str = "") -> None:
        self.mlflow: Any = type("M", (), {"ui_url": "http://mlflow:5000"})()
        self.prefect: Any = type("P", (), {"ui_url": "http://prefect:4200"})()
        self.predictions: Any = type("A", (), {"docs_url": "http://api:8000/docs"})()
        self.settings: Any = type("S", (), {"prometheus_url": prometheus_url})()


def service(name: str, url: str | None, status: str = "running") -> ServiceInfo:
    return ServiceInfo(name, name, "x", status, status == "running", "", None, url, None)


def test_stack_links_are_the_published_ports_only() -> None:
    services = [service("mlflow", "http://localhost:5000"), service("api", None, "exited")]
    urls = links_from(services, "docker", _Managers("http://prometheus:9090"))  # type: ignore[arg-type]
    assert urls == {"mlflow": "http://localhost:5000"}  # a stopped API has no link


def test_local_mode_keeps_the_configured_url_of_a_tool_it_does_not_run() -> None:
    # MLflow is remote (not supervised here), Prefect is local but stopped.
    services = [service("prefect", "http://127.0.0.1:4200", "stopped"),
                service("api", "http://127.0.0.1:8000/docs")]  # fmt: skip
    urls = links_from(services, "local", _Managers("http://prom.example:9090"))  # type: ignore[arg-type]
    assert urls == {
        "mlflow": "http://mlflow:5000", "api": "http://127.0.0.1:8000/docs",
        "prometheus": "http://prom.example:9090",
    }  # fmt: skip
