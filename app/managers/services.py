"""ServiceManager: the services of the control room, with two backends behind one interface.

- :class:`LocalServiceManager`: local mode's processes, through the supervisor of ``make run``
  (:class:`core.supervisor.Supervisor`, a core object that is its own adapter).
- :class:`~app.managers.docker_services.DockerServiceManager`: the compose project's containers,
  over the :class:`core.adapters.containers.ContainerEngine` port.

Both give a status per service (with the health check's latency and the uptime), start, stop,
restart, the last lines of a service's log, and where a person opens each tool. The composition
root (``app/bootstrap.py``) picks one from the settings (``RAKUTEN_MODE``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

from app.managers.errors import ManagerError, NotFound, ServiceUnavailable, permission_errors
from app.records import ServiceInfo
from core.access import Action, Actor, AuditLog, LoggingAuditLog, audited, checks
from core.supervisor import ServiceSpec, Supervisor, SupervisorError

LINKS_MAX_AGE = 30.0  # seconds: a page that shows a few links need not check every service


class ServiceManager(ABC):
    """What the Infrastructure page and Home need of a backend."""

    backend: str
    # Tool → configured URL, kept for tools this backend does not run (local mode's remote ones).
    _configured: Mapping[str, str | None] = MappingProxyType({})
    _links: tuple[float, dict[str, str]] | None = None
    _audit: AuditLog = LoggingAuditLog()  # the database's audit log, given by the composition root

    @abstractmethod
    def services(self) -> list[ServiceInfo]:
        """Every service, in start order."""

    @abstractmethod
    def service(self, name: str) -> ServiceInfo:
        """One service's status, health and uptime."""

    @abstractmethod
    def _start(self, name: str, wait: float) -> ServiceInfo:
        """Start a service and wait (up to ``wait`` s) until it is healthy (no role check)."""

    @abstractmethod
    def _stop(self, name: str) -> ServiceInfo:
        """Stop a service (no role check)."""

    @abstractmethod
    def logs(self, name: str, lines: int = 100) -> str:
        """The last ``lines`` of the service's log."""

    @checks(Action.START_SERVICE)
    def start(self, name: str, actor: Actor, wait: float = 60.0) -> ServiceInfo:
        """Start a service and wait (up to ``wait`` s) until it is healthy."""
        with self._guard(actor, Action.START_SERVICE, name):
            return self._start(name, wait)

    @checks(Action.STOP_SERVICE)
    def stop(self, name: str, actor: Actor) -> ServiceInfo:
        """Stop a service."""
        with self._guard(actor, Action.STOP_SERVICE, name):
            return self._stop(name)

    @checks(Action.RESTART_SERVICE)
    def restart(self, name: str, actor: Actor, wait: float = 60.0) -> ServiceInfo:
        """Stop, then start and wait until healthy (an operator may, unlike a plain stop)."""
        with self._guard(actor, Action.RESTART_SERVICE, name):
            self._stop(name)
            return self._start(name, wait)

    def links(self, services: list[ServiceInfo] | None) -> dict[str, str]:
        """Tool name → URL, for the services that run, as this machine's browser reaches them.

        A tool this backend does not run (none of ``services``) keeps its configured URL, if any.
        """
        urls = {s.name: s.url for s in services or [] if s.url and s.status == "running"}
        known = {s.name for s in services or []}
        return urls | {n: url for n, url in self._configured.items() if url and n not in known}

    def tool_links(self) -> dict[str, str]:
        """The links, for pages that show a few of them (services checked at most every 30 s)."""
        if self._links and time.monotonic() - self._links[0] < LINKS_MAX_AGE:
            return self._links[1]
        try:
            services: list[ServiceInfo] | None = self.services()
        except ManagerError:
            services = None
        self._links = (time.monotonic(), self.links(services))
        return self._links[1]

    @contextmanager
    def _guard(self, actor: Actor, action: Action, name: str) -> Iterator[None]:
        params = {"backend": self.backend}
        with (
            permission_errors(),
            audited(self._audit, actor, action, target=name, params=params),
        ):
            yield


class LocalServiceManager(ServiceManager):
    """Local mode's processes through :class:`core.supervisor.Supervisor`.

    ``configured``: tool → URL from the settings, for tools not supervised here (e.g. a remote
    MLflow); its link is kept.
    """

    backend = "local"

    def __init__(
        self,
        supervisor: Supervisor,
        configured: Mapping[str, str | None] | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._supervisor = supervisor
        self._configured = dict(configured or {})
        self._audit = audit or LoggingAuditLog()

    def services(self) -> list[ServiceInfo]:
        """Every local service, in start order."""
        return [self.service(name) for name in self._supervisor.specs]

    def service(self, name: str) -> ServiceInfo:
        """One service's status, health (checked now, by the supervisor) and uptime."""
        spec = self._spec(name)
        status = self._supervisor.status(name)
        started = status.started_at
        return ServiceInfo(
            name=name,
            title=spec.title,
            backend=self.backend,
            status="running" if status.running else "stopped",
            healthy=status.healthy,
            reason=status.reason,
            check_ms=status.check_ms,
            url=status.url,
            uptime_s=(datetime.now(UTC) - started).total_seconds() if started else None,
            restarts=status.restarts.restarts,
            restart_note=status.restarts.summary(),
        )

    def _start(self, name: str, wait: float) -> ServiceInfo:
        """Start a service and wait until it is healthy."""
        self._spec(name)
        try:
            self._supervisor.start(name)
            self._supervisor.wait_healthy(name, timeout=wait)
        except (SupervisorError, OSError) as exc:
            raise ServiceUnavailable(f"{name} did not start: {exc}") from exc
        return self.service(name)

    def _stop(self, name: str) -> ServiceInfo:
        """Stop a service and its children."""
        self._spec(name)
        try:
            self._supervisor.stop(name)
        except OSError as exc:  # e.g. another user's process
            raise ServiceUnavailable(f"{name} could not be stopped: {exc}") from exc
        return self.service(name)

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
