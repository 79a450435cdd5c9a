"""ServiceManager, Docker backend: the containers of the compose project, over the engine's port.

The :class:`core.adapters.containers.ContainerEngine` (the Docker SDK in production) finds the
containers by compose's own labels; this manager says what each one is, whether it is healthy (as
Docker's healthchecks last saw it) and where a person opens it (where its port is published on the
Docker host), and turns the engine's errors into messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from app.managers.errors import ManagerError, NotFound, ServiceUnavailable
from app.managers.services import ServiceManager
from app.records import APP_SERVICE, ServiceInfo
from core.access import AuditLog, LoggingAuditLog
from core.adapters.containers import ContainerEngine, ContainerInfo
from core.adapters.errors import AdapterError, Missing, Refused, Unreachable


class EngineUnreachable(ServiceUnavailable):
    """The Docker engine does not answer: the stack cannot be seen or controlled from here."""


# Compose services by name: a title, and which published port and path a person opens.
_DOCKER_SERVICES: dict[str, tuple[str, int | None, str]] = {
    "postgres": ("PostgreSQL", None, ""),
    "minio": ("MinIO (MLflow artifacts)", 9001, ""),  # the console, not the S3 API
    "minio-init": ("MinIO bucket creation (one-shot)", None, ""),
    "dex": ("Dex (sign-in)", 5556, "/dex/.well-known/openid-configuration"),
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


class DockerServiceManager(ServiceManager):
    """The containers of one compose project; an engine that is down is reported by the first
    call, as :class:`EngineUnreachable`."""

    backend = "docker"

    def __init__(self, engine: ContainerEngine, audit: AuditLog | None = None) -> None:
        self._engine = engine
        self._audit = audit or LoggingAuditLog()

    @property
    def project(self) -> str:
        """The compose project."""
        return self._engine.project

    def services(self) -> list[ServiceInfo]:
        """Every container of the project, in the stack's start order."""
        with self._translated():
            containers = self._engine.containers()
        return sorted((_info(c) for c in containers), key=_start_order)

    def service(self, name: str) -> ServiceInfo:
        """One service's status, health (as Docker's healthcheck last saw it) and uptime."""
        with self._translated():
            return _info(self._engine.container(name))

    def _start(self, name: str, wait: float) -> ServiceInfo:
        """Start the container and wait (up to ``wait`` s) for its healthcheck to pass."""
        with self._translated():
            self._engine.start(name)
        deadline = time.monotonic() + wait
        while True:
            info = self.service(name)
            if info.healthy or time.monotonic() >= deadline or info.status != "running":
                return info
            time.sleep(1)

    def _stop(self, name: str) -> ServiceInfo:
        """Stop the container (SIGTERM, then SIGKILL after 10 s)."""
        with self._translated():
            self._engine.stop(name, timeout=10)
        return self.service(name)

    def logs(self, name: str, lines: int = 100) -> str:
        """The last ``lines`` lines the container wrote (stdout and stderr)."""
        with self._translated():
            return self._engine.logs(name, lines)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except Unreachable as exc:
            raise EngineUnreachable(
                f"{exc}, so the compose stack cannot be seen or controlled from here. Start Docker "
                "(and `docker compose up -d`), check that this user may use its socket, or run "
                "the control room in local mode: `make run` (RAKUTEN_MODE=local)."
            ) from exc
        except Missing as exc:
            raise NotFound(f"{exc} Start the stack with `docker compose up -d`.") from exc
        except Refused as exc:
            raise ServiceUnavailable(str(exc)) from exc
        except AdapterError as exc:
            raise ManagerError(str(exc)) from exc


def _info(container: ContainerInfo) -> ServiceInfo:
    name, status = container.service, container.status
    title, port, path = _DOCKER_SERVICES.get(name, (name, None, ""))
    check = container.last_check
    if name in ONE_SHOT and status == "exited" and container.exit_code == 0:
        status, reason = "completed", ""
    elif status != "running":
        code = "?" if container.exit_code is None else container.exit_code
        reason = f"{status} (exit code {code})"
        if container.error:
            reason += f": {container.error}"
    elif container.health == "unhealthy":
        output = (check.output if check else "").strip().splitlines()
        reason = "health check failing" + (f": {output[-1][:200]}" if output else "")
    elif container.health == "starting":
        reason = "health check not passed yet (starting)"
    else:
        reason = ""
    started = container.started_at if status == "running" else None
    return ServiceInfo(
        name=name,
        title=title,
        backend=DockerServiceManager.backend,
        status=status,
        healthy=status in {"running", "completed"} and not reason,
        reason=reason,
        check_ms=check.elapsed_ms if check else None,
        url=_published_url(container.ports, port, path),
        uptime_s=(datetime.now(UTC) - started).total_seconds() if started else None,
    )


def _start_order(service: ServiceInfo) -> tuple[int, str]:
    return (_ORDER.index(service.name) if service.name in _ORDER else len(_ORDER), service.name)


def _published_url(ports: dict[int, int], preferred: int | None, path: str) -> str | None:
    """``http://localhost:<host port><path>``: where the ``preferred`` container port is published
    (else the first published TCP port), as a browser on the Docker host reaches it."""
    host_port = ports.get(preferred) if preferred else None
    host_port = host_port or next(iter(ports.values()), None)
    return f"http://localhost:{host_port}{path}" if host_port else None
