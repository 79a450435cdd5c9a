"""Which URL each tool link opens: where the service is published, never a container's name."""

from __future__ import annotations

from pathlib import Path

from app.managers.docker_services import DockerServiceManager
from app.managers.services import LocalServiceManager
from app.records import ServiceInfo
from core.supervisor import Supervisor
from tests.fakes import FakeContainerEngine

CONFIGURED = {
    "mlflow": "http://mlflow:5000",
    "prefect": "http://prefect:4200",
    "api": "http://api:8000/docs",
}


def service(name: str, url: str | None, status: str = "running") -> ServiceInfo:
    return ServiceInfo(name, name, "x", status, status == "running", "", None, url, None)


def test_stack_links_are_the_published_ports_only() -> None:
    services = [service("mlflow", "http://localhost:5000"), service("api", None, "exited")]
    urls = DockerServiceManager(FakeContainerEngine()).links(services)
    assert urls == {"mlflow": "http://localhost:5000"}  # a stopped API has no link


def test_local_mode_keeps_the_configured_url_of_a_tool_it_does_not_run(tmp_path: Path) -> None:
    # MLflow is remote (not supervised here), Prefect is local but stopped.
    services = [
        service("prefect", "http://127.0.0.1:4200", "stopped"),
        service("api", "http://127.0.0.1:8000/docs"),
    ]
    configured = CONFIGURED | {"prometheus": "http://prom.example:9090"}
    urls = LocalServiceManager(Supervisor(tmp_path, []), configured).links(services)
    assert urls == {
        "mlflow": "http://mlflow:5000",
        "api": "http://127.0.0.1:8000/docs",
        "prometheus": "http://prom.example:9090",
    }


def test_pages_get_the_links_of_what_runs_now_without_checking_every_time(
    tmp_path: Path,
) -> None:
    engine = FakeContainerEngine()
    manager = DockerServiceManager(engine)
    assert manager.tool_links()["api"] == "http://localhost:8000/docs"
    engine.all["api"].set_exited(137)
    assert "api" in manager.tool_links()  # looked up at most every 30 s
    engine.down = True
    assert DockerServiceManager(engine).tool_links() == {}  # the engine down: no link, no error
    assert LocalServiceManager(Supervisor(tmp_path, []), CONFIGURED).tool_links() == CONFIGURED
