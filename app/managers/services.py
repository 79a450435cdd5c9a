"""ServiceManager, local backend: the services of local mode, as the supervisor runs them.

The Infrastructure page (its issue) puts a Docker backend beside this one behind the same
methods; this part is what local mode needs: a status per service (with the health check's
latency and the uptime), start, stop, restart, and the last lines of a service's log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from app.managers.errors import NotFound, ServiceUnavailable
from core.supervisor import ServiceSpec, Supervisor, SupervisorError


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """One service as the Infrastructure page shows it."""

    name: str
    title: str
    backend: str  # local | docker
    status: str  # running | stopped
    healthy: bool
    reason: str  # why it is not healthy, in words
    check_ms: float | None  # latency of the health check
    url: str | None
    uptime_s: float | None


class LocalServiceManager:
    """Local mode's processes through :class:`core.supervisor.Supervisor`."""

    backend = "local"

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def services(self) -> list[ServiceInfo]:
        """Every local service, in start order."""
        return [self.service(name) for name in self._supervisor.specs]

    def service(self, name: str) -> ServiceInfo:
        """One service's status, health (checked now) and uptime."""
        spec = self._spec(name)
        status = self._supervisor.status(name)
        check_ms, reason = None, ""
        if not status.running:
            reason = "stopped (no process)"
        elif spec.health_url:
            start = time.perf_counter()
            try:
                answer = requests.get(spec.health_url, timeout=3)
                reason = "" if answer.ok else f"health check answered {answer.status_code}"
            except requests.RequestException as exc:
                reason = f"health check failed ({type(exc).__name__})"
            check_ms = (time.perf_counter() - start) * 1000
        uptime = (
            (datetime.now(UTC) - status.started_at).total_seconds() if status.started_at else None
        )
        return ServiceInfo(
            name, spec.title, self.backend, "running" if status.running else "stopped",
            status.running and not reason, reason, check_ms, status.url, uptime,
        )  # fmt: skip

    def start(self, name: str, wait: float = 60.0) -> ServiceInfo:
        """Start a service and wait until it is healthy."""
        self._spec(name)
        try:
            self._supervisor.start(name)
            self._supervisor.wait_healthy(name, timeout=wait)
        except SupervisorError as exc:
            raise ServiceUnavailable(f"{name} did not start: {exc}") from exc
        return self.service(name)

    def stop(self, name: str) -> ServiceInfo:
        """Stop a service and its children."""
        self._spec(name)
        self._supervisor.stop(name)
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
