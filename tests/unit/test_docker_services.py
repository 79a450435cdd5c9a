"""The Docker backend of the service manager over the container engine's port (a fake engine), the
SDK adapter's reading of the engine's inspect data, and the real SDK pointed at no engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import service_manager
from app.managers.docker_services import DockerServiceManager, EngineUnreachable
from app.managers.errors import NotFound
from core.access import Actor
from core.adapters.containers import DockerEngine, parse_container
from core.settings import Settings
from tests.fakes import FakeContainerEngine

ACTOR = Actor.local_admin()

# `docker inspect` of a compose service's container, trimmed to what the adapter reads.
INSPECTED: dict[str, Any] = {
    "Name": "/rakuten-control-room-api-1",
    "Config": {
        "Labels": {
            "com.docker.compose.project": "rakuten-control-room",
            "com.docker.compose.service": "api",
            "com.docker.compose.oneoff": "False",
        }
    },
    "State": {
        "Status": "running",
        "Running": True,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "2026-11-27T08:00:00.123456789Z",
        "Health": {
            "Status": "unhealthy",
            "Log": [
                {
                    "Start": "2026-11-27T08:58:30.000000000Z",
                    "End": "2026-11-27T08:58:30.050000000Z",
                    "ExitCode": 0,
                    "Output": "ok",
                },
                {
                    "Start": "2026-11-27T08:59:00.100000000+00:00",
                    "End": "2026-11-27T08:59:00.112500000+00:00",
                    "ExitCode": 1,
                    "Output": "first\nconnection refused\n",
                },
            ],
        },
    },
    "NetworkSettings": {
        "Ports": {
            "8000/tcp": [
                {"HostIp": "0.0.0.0", "HostPort": "18000"},
                {"HostIp": "::", "HostPort": "18000"},
            ],
            "8001/tcp": None,  # exposed, not published
            "9125/udp": [{"HostIp": "0.0.0.0", "HostPort": "9125"}],
        }
    },
}


@pytest.fixture
def engine() -> FakeContainerEngine:
    return FakeContainerEngine()


@pytest.fixture
def manager(engine: FakeContainerEngine) -> DockerServiceManager:
    return DockerServiceManager(engine)


def test_the_project_containers_in_start_order_with_health_latency_and_urls(
    manager: DockerServiceManager,
) -> None:
    services = manager.services()
    assert [s.name for s in services] == list(FakeContainerEngine.SERVICES)
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
    engine: FakeContainerEngine, manager: DockerServiceManager
) -> None:
    engine.all["minio-init"].set_exited(1)
    assert manager.service("minio-init").reason == "exited (exit code 1)"
    engine.all["api"].set_exited(137)
    engine.all["mlflow"].set_running(healthy=False, output="first\nconnection refused\n")
    api, mlflow = manager.service("api"), manager.service("mlflow")
    assert (api.status, api.healthy, api.reason, api.uptime_s) == (
        "exited",
        False,
        "exited (exit code 137)",
        None,
    )
    assert not mlflow.healthy and mlflow.reason == "health check failing: connection refused"


def test_start_stop_restart_and_logs(
    engine: FakeContainerEngine, manager: DockerServiceManager
) -> None:
    stopped = manager.stop("api", ACTOR)
    assert stopped.status == "exited" and not stopped.healthy
    starting = manager.start("api", ACTOR, wait=0)
    assert (starting.status, starting.healthy) == ("running", False)
    assert starting.reason == "health check not passed yet (starting)"
    assert manager.restart("api", ACTOR, wait=5).healthy  # waits for the healthcheck to pass
    assert engine.all["api"].calls == ["stop", "start", "stop", "start"]
    assert manager.logs("api", lines=3) == "api line 298\napi line 299\napi line 300\n"


def test_an_unknown_service_names_the_known_ones(manager: DockerServiceManager) -> None:
    with pytest.raises(NotFound, match=r"No container for service 'nope'.*known: api, app"):
        manager.stop("nope", ACTOR)


def test_an_engine_that_stops_answering_is_reported_plainly(
    engine: FakeContainerEngine, manager: DockerServiceManager
) -> None:
    assert manager.services()
    engine.down = True
    with pytest.raises(EngineUnreachable, match="Docker engine is not reachable.*make run"):
        manager.services()


def test_the_adapter_reads_the_engines_inspect_data() -> None:
    found = parse_container(INSPECTED)
    assert (found.service, found.status) == ("api", "running")
    assert found.name == "rakuten-control-room-api-1"
    assert found.started_at == datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=UTC)
    assert found.health == "unhealthy" and found.last_check is not None
    assert found.last_check.elapsed_ms == pytest.approx(12.5)  # the last probe, not the first
    assert found.last_check.output.endswith("connection refused\n")
    assert found.ports == {8000: 18000}  # published TCP only
    created = {"Status": "created", "StartedAt": "0001-01-01T00:00:00Z"}  # Docker's zero time
    never = parse_container({"Name": "/x", "State": created})
    assert (never.service, never.started_at, never.last_check, never.ports) == ("x", None, None, {})


def test_the_adapter_asks_for_the_projects_own_containers_not_one_offs() -> None:
    asked: dict[str, Any] = {}

    class Containers:  # the one SDK call that selects containers, recorded
        def list(self, **kwargs: Any) -> list[Any]:
            asked.update(kwargs)
            return []

    client = type("Client", (), {"containers": Containers()})()
    assert DockerEngine("p", client_factory=lambda: client).containers() == []
    # `docker compose run` containers carry the same service label: they are not the service.
    assert asked["filters"] == {
        "label": ["com.docker.compose.project=p", "com.docker.compose.oneoff=False"]
    }
    assert asked["all"] is True  # stopped containers are services too


def test_no_engine_at_all_is_reported_by_the_real_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    # Built without connecting: the first call reports it.
    manager = DockerServiceManager(DockerEngine("rakuten-control-room", timeout=1))
    with pytest.raises(EngineUnreachable, match="RAKUTEN_MODE=local"):
        manager.services()


def test_the_settings_pick_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stack = service_manager(Settings(mode="stack", compose_project="p", var_dir=tmp_path))
    local = service_manager(Settings(mode="local", var_dir=tmp_path))
    assert stack.backend == "docker" and isinstance(stack, DockerServiceManager)
    assert stack.project == "p"
    assert local.backend == "local" and "api" in [s.name for s in local.services()]
