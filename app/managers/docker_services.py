"""ServiceManager, Docker backend: the containers of the compose project, through the docker SDK.

Containers are found by compose's own labels; their health is what Docker's healthchecks last
saw, and their URL is where their port is published on the Docker host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
import requests
from docker import errors as docker_errors
from docker.errors import DockerException

from app.managers.errors import NotFound, ServiceUnavailable
from app.records import APP_SERVICE, ServiceInfo


class EngineUnreachable(ServiceUnavailable):
    """The Docker engine does not answer: the stack cannot be seen or controlled from here."""


# Compose services by name: a title, and which published port and path a person opens.
_DOCKER_SERVICES: dict[str, tuple[str, int | None, str]] = {
    "postgres": ("PostgreSQL", None, ""),
    "minio": ("MinIO (MLflow artifacts)", 9001, ""),  # the console, not the S3 API
    "minio-init": ("MinIO bucket creation (one-shot)", None, ""),
    "mlflow": ("MLflow tracking server", 5000, ""),
    "prefect": ("Prefect server", 4200, ""),
    "worker": ("Flows worker (serves the deployments)", None, ""),
    "api": ("Predictor API (serves the champion)", 8000, "/docs"),
    "prometheus": ("Prometheus", 9090, ""),
    "grafana": ("Grafana", 3000, ""),
    APP_SERVICE: ("Control room (Streamlit)", 8501, ""),
}
ONE_SHOT = {"minio-init"}  # done when exited with code 0
_ORDER = list(_DOCKER_SERVICES)


class DockerServiceManager:
    """The containers of one compose project, found by compose's own labels.

    ``client_factory`` builds a ``docker.DockerClient`` (``docker.from_env`` by default, so
    ``DOCKER_HOST`` is honoured); it is called on first use, so an engine that is down is reported
    by the first call, as :class:`EngineUnreachable`, not when the page is built.
    """

    backend = "docker"

    def __init__(
        self, project: str, client_factory: Callable[[], Any] | None = None, timeout: int = 5
    ) -> None:
        self.project = project
        self._factory = client_factory or (lambda: docker.from_env(timeout=timeout))
        self._client: Any = None

    def services(self) -> list[ServiceInfo]:
        """Every container of the project, in the stack's start order."""
        containers = self._containers()
        infos = [self._info(c) for c in containers.values()]
        return sorted(infos, key=_start_order)

    def service(self, name: str) -> ServiceInfo:
        """One service's status, health (as Docker's healthcheck last saw it) and uptime."""
        return self._info(self._container(name))

    def start(self, name: str, wait: float = 60.0) -> ServiceInfo:
        """Start the container and wait (up to ``wait`` s) for its healthcheck to pass."""
        container = self._container(name)
        self._call(container.start)
        deadline = time.monotonic() + wait
        while True:
            self._call(container.reload)  # the SDK's attrs are a snapshot
            info = self._info(container)
            if info.healthy or time.monotonic() >= deadline or info.status != "running":
                return info
            time.sleep(1)

    def stop(self, name: str) -> ServiceInfo:
        """Stop the container (SIGTERM, then SIGKILL after 10 s)."""
        container = self._container(name)
        self._call(container.stop, timeout=10)
        self._call(container.reload)
        return self._info(container)

    def restart(self, name: str, wait: float = 60.0) -> ServiceInfo:
        """Stop, then start and wait for health."""
        self.stop(name)
        return self.start(name, wait)

    def logs(self, name: str, lines: int = 100) -> str:
        """The last ``lines`` lines the container wrote (stdout and stderr)."""
        raw = self._call(self._container(name).logs, tail=lines)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def _info(self, container: Any) -> ServiceInfo:
        state = container.attrs.get("State", {})
        name = container.labels.get("com.docker.compose.service", container.name)
        title, port, path = _DOCKER_SERVICES.get(name, (name, None, ""))
        status = container.status
        health = state.get("Health") or {}
        checks = health.get("Log") or []
        last = checks[-1] if checks else None
        check_ms = _elapsed_ms(last["Start"], last["End"]) if last else None
        if name in ONE_SHOT and status == "exited" and state.get("ExitCode") == 0:
            status, reason = "completed", ""
        elif status != "running":
            reason = f"{status} (exit code {state.get('ExitCode', '?')})"
            if state.get("Error"):
                reason += f": {state['Error']}"
        elif health.get("Status") == "unhealthy":
            output = (last or {}).get("Output", "").strip().splitlines()
            reason = "health check failing" + (f": {output[-1][:200]}" if output else "")
        elif health.get("Status") == "starting":
            reason = "health check not passed yet (starting)"
        else:
            reason = ""
        started = _parse_time(state.get("StartedAt")) if status == "running" else None
        return ServiceInfo(
            name, title, self.backend, status, status in {"running", "completed"} and not reason,
            reason, check_ms, _published_url(container.ports, port, path),
            (datetime.now(UTC) - started).total_seconds() if started else None,
        )  # fmt: skip

    def _containers(self) -> dict[str, Any]:
        client = self._connect()
        # Not one-off containers (`docker compose run`), which carry the same service label.
        labels = [f"com.docker.compose.project={self.project}", "com.docker.compose.oneoff=False"]
        found = self._call(
            client.containers.list, all=True, filters={"label": labels}, ignore_removed=True
        )
        return {c.labels.get("com.docker.compose.service", c.name): c for c in found}

    def _container(self, name: str) -> Any:
        containers = self._containers()
        if name not in containers:
            known = ", ".join(sorted(containers)) or "none"
            raise NotFound(
                f"No container for service {name!r} in compose project {self.project!r} "
                f"(known: {known}); start the stack with `docker compose up -d`."
            )
        return containers[name]

    def _connect(self) -> Any:
        if self._client is None:
            try:
                self._client = self._factory()
            except DockerException as exc:
                raise _unreachable(exc) from exc
        return self._client

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except DockerException as exc:
            if isinstance(exc, docker_errors.NotFound):
                raise NotFound(f"The container is gone: {exc}") from exc
            if isinstance(exc, docker_errors.APIError):
                raise ServiceUnavailable(f"The Docker engine refused: {exc.explanation}") from exc
            self._client = None  # connect again next time
            raise _unreachable(exc) from exc
        except requests.RequestException as exc:
            self._client = None
            raise _unreachable(exc) from exc


def _start_order(service: ServiceInfo) -> tuple[int, str]:
    return (_ORDER.index(service.name) if service.name in _ORDER else len(_ORDER), service.name)


def _unreachable(exc: Exception) -> EngineUnreachable:
    cause = " ".join(str(exc).split())[:160] or type(exc).__name__
    return EngineUnreachable(
        f"The Docker engine is not reachable ({cause}), so the compose stack cannot be seen or "
        "controlled from here. Start Docker (and `docker compose up -d`), check that this user "
        "may use its socket, or run the control room in local mode: `make run` "
        "(RAKUTEN_MODE=local)."
    )


def _parse_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times have nanoseconds; Python keeps microseconds."""
    if not value or value.startswith("0001-"):
        return None
    head, _, fraction = value.rstrip("Z").partition(".")
    digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
    parsed = datetime.fromisoformat(f"{head}.{digits or '0'}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _elapsed_ms(start: str, end: str) -> float | None:
    began, ended = _parse_time(start), _parse_time(end)
    return (ended - began).total_seconds() * 1000 if began and ended else None


def _published_url(ports: dict[str, Any] | None, preferred: int | None, path: str) -> str | None:
    """``http://localhost:<host port><path>``: where the ``preferred`` container port is published
    (else the first published TCP port), as a browser on the Docker host reaches it."""
    published = {
        key: binding["HostPort"]
        for key, bindings in (ports or {}).items()
        for binding in bindings or []
        if binding.get("HostPort")
    }
    host_port = published.get(f"{preferred}/tcp") or next(iter(published.values()), None)
    return f"http://localhost:{host_port}{path}" if host_port else None
