"""The Docker backend of the service manager at its seam: a fake docker client, and a real one
pointed at an engine that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.managers.docker_services import DockerServiceManager, EngineUnreachable
from app.managers.errors import NotFound
from app.managers.services import service_manager
from core.settings import Settings
from tests.fakes import FakeContainer, FakeDockerClient


@pytest.fixture
def engine() -> FakeDockerClient:
    return FakeDockerClient()


@pytest.fixture
def manager(engine: FakeDockerClient) -> DockerServiceManager:
    return DockerServiceManager(engine.project, lambda: engine)


def test_the_project_containers_in_start_order_with_health_latency_and_urls(
    engine: FakeDockerClient, manager: DockerServiceManager
) -> None:
    other = FakeDockerClient("another-project")
    engine.all.append(FakeContainer(other, "api", (18000,)))  # not ours: filtered out by label
    services = manager.services()
    assert [s.name for s in services] == list(FakeDockerClient.SERVICES)
    api = manager.service("api")
    assert (api.backend, api.status, api.healthy, api.reason) == ("docker", "running", True, "")
    assert api.url == "http://localhost:8000/docs" and api.title.startswith("Predictor API")
    assert api.check_ms == pytest.approx(12.5)  # End - Start of the last healthcheck probe
    assert api.uptime_s is not None and api.uptime_s > 0
    assert manager.service("worker").url is None  # publishes no port
    assert manager.service("minio").url == "http://localhost:9001"  # the console, not S3
    bucket = manager.service("minio-init")  # a one-shot that finished is done, not down
    assert (bucket.status, bucket.healthy, bucket.reason) == ("completed", True, "")


def test_a_stopped_or_unhealthy_container_says_why(
    engine: FakeDockerClient, manager: DockerServiceManager
) -> None:
    engine.container("minio-init").set_exited(1)
    assert manager.service("minio-init").reason == "exited (exit code 1)"
    engine.container("api").set_exited(137)
    engine.container("mlflow").set_running(healthy=False, output="first\nconnection refused\n")
    api, mlflow = manager.service("api"), manager.service("mlflow")
    assert (api.status, api.healthy, api.reason, api.uptime_s) == (
        "exited",
        False,
        "exited (exit code 137)",
        None,
    )
    assert not mlflow.healthy and mlflow.reason == "health check failing: connection refused"


def test_start_stop_restart_and_logs(
    engine: FakeDockerClient, manager: DockerServiceManager
) -> None:
    stopped = manager.stop("api")
    assert stopped.status == "exited" and not stopped.healthy
    starting = manager.start("api", wait=0)
    assert (starting.status, starting.healthy) == ("running", False)
    assert starting.reason == "health check not passed yet (starting)"
    assert manager.restart("api", wait=5).healthy  # waits for the healthcheck to pass
    assert engine.container("api").calls == ["stop", "start", "stop", "start"]
    assert manager.logs("api", lines=3) == "api line 298\napi line 299\napi line 300\n"


def test_an_unknown_service_names_the_known_ones(manager: DockerServiceManager) -> None:
    with pytest.raises(NotFound, match=r"No container for service 'nope'.*known: api, app"):
        manager.stop("nope")


def test_an_engine_that_stops_answering_is_reported_plainly(
    engine: FakeDockerClient, manager: DockerServiceManager
) -> None:
    assert manager.services()
    engine.down = True
    with pytest.raises(EngineUnreachable, match="Docker engine is not reachable.*make run"):
        manager.services()


def test_no_engine_at_all_is_reported_by_the_real_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    manager = DockerServiceManager("rakuten-control-room", timeout=1)  # built without connecting
    with pytest.raises(EngineUnreachable, match="RAKUTEN_MODE=local"):
        manager.services()


def test_the_settings_pick_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stack = service_manager(Settings(mode="stack", compose_project="p", var_dir=tmp_path))
    local = service_manager(Settings(mode="local", var_dir=tmp_path))
    assert stack.backend == "docker" and isinstance(stack, DockerServiceManager)
    assert stack.project == "p"
    assert local.backend == "local" and "api" in [s.name for s in local.services()]


def test_one_off_containers_of_the_same_service_are_not_the_service(
    engine: FakeDockerClient, manager: DockerServiceManager
) -> None:
    one_off = FakeContainer(engine, "app")  # `docker compose run app python -m core.cli …`
    one_off.labels["com.docker.compose.oneoff"] = "True"
    one_off.set_exited(1)
    engine.all.append(one_off)
    assert manager.service("app").healthy
