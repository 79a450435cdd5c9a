"""ServiceManager: the services of the control room, with two backends behind one interface.

- :class:`LocalServiceManager`: local mode's processes, through the supervisor of ``make run``.
- :class:`~app.managers.docker_services.DockerServiceManager`: the compose project's containers,
  through the docker SDK.

Both give a status per service (with the health check's latency and the uptime), start, stop,
restart, and the last lines of a service's log. :func:`service_manager` picks one from the
settings (``RAKUTEN_MODE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from app.managers.docker_services import DockerServiceManager
from app.managers.errors import NotFound, ServiceUnavailable
from app.records import ServiceInfo
from core.local_stack import local_services
from core.settings import Settings
from core.supervisor import ServiceSpec, Supervisor, SupervisorError


class ServiceManager(Protocol):
    """What the Infrastructure page and Home need of a backend."""

    backend: str

    def services(self) -> list[ServiceInfo]: ...
    def service(self, name: str) -> ServiceInfo: ...
    def start(self, name: str, wait: float = 60.0) -> ServiceInfo: ...
    def stop(self, name: str) -> ServiceInfo: ...
    def restart(self, name: str, wait: float = 60.0) -> ServiceInfo: ...
    def logs(self, name: str, lines: int = 100) -> str: ...


def service_manager(settings: Settings) -> ServiceManager:
    """The backend the settings ask for: containers in stack mode, processes in local mode."""
    if settings.mode == "stack":
        return DockerServiceManager(settings.compose_project)
    return local_service_manager(settings)


def local_service_manager(settings: Settings) -> LocalServiceManager:
    """Local mode's services, through the same PID files and logs as ``make run``."""
    return LocalServiceManager(Supervisor(settings.var_dir, local_services(settings)))


class LocalServiceManager:
    """Local mode's processes through :class:`core.supervisor.Supervisor`."""

    backend = "local"

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def services(self) -> list[ServiceInfo]:
        """Every local service, in start order."""
        return [self.service(name) for name in self._supervisor.specs]

    def service(self, name: str) -> ServiceInfo:
        """One service's status, health (checked now, by the supervisor) and uptime."""
        spec = self._spec(name)
        status = self._supervisor.status(name)
        uptime = (
            (datetime.now(UTC) - status.started_at).total_seconds() if status.started_at else None
        )
        return ServiceInfo(
            name, spec.title, self.backend, "running" if status.running else "stopped",
            status.healthy, status.reason, status.check_ms, status.url, uptime,
        )  # fmt: skip

    def start(self, name: str, wait: float = 60.0) -> ServiceInfo:
        """Start a service and wait until it is healthy."""
        self._spec(name)
        try:
            self._supervisor.start(name)
            self._supervisor.wait_healthy(name, timeout=wait)
        except (SupervisorError, OSError) as exc:
            raise ServiceUnavailable(f"{name} did not start: {exc}") from exc
        return self.service(name)

    def stop(self, name: str) -> ServiceInfo:
        """Stop a service and its children."""
        self._spec(name)
        try:
            self._supervisor.stop(name)
        except OSError as exc:  # e.g. another user's process
            raise ServiceUnavailable(f"{name} could not be stopped: {exc}") from exc
        return self.service(name)

    def restart(self, name: str, wait: float = 60.0) -> ServiceInfo:
        """Stop, then start and wait until healthy."""
        self.stop(name)
        return self.start(name, wait)

    def logs(self, name: str, lines: int = 100) -> str:
        """The last ``lines`` of the service's log."""
        self._spec(name)
        return self._supervisor.log_tail(name, lines)

    def _spec(self, name: str) -> ServiceSpec:
        try:
            return self._supervisor.specs[name]
        except KeyError:
            raise NotFound(
                f"No local service {name!r}; known: {', '.join(self._supervisor.specs)}"
            ) from None
