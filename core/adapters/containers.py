"""The container engine: the compose project's containers, their state, start, stop and logs.

:class:`ContainerEngine` is the port, in compose's terms (one container per service);
:class:`DockerEngine` is the Docker SDK adapter. Containers are found by compose's own labels, and
come back as :class:`ContainerInfo` records parsed from the engine's inspect data — never SDK
objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import docker
import requests
from docker import errors as docker_errors
from docker.errors import DockerException

from core.adapters.errors import Missing, Refused, Unreachable

SERVICE_LABEL = "com.docker.compose.service"
PROJECT_LABEL = "com.docker.compose.project"
ONEOFF_LABEL = "com.docker.compose.oneoff"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The last probe of a container's healthcheck."""

    started: datetime | None
    ended: datetime | None
    exit_code: int | None
    output: str

    @property
    def elapsed_ms(self) -> float | None:
        """How long the probe took."""
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds() * 1000


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """One container of the project, as the engine last saw it."""

    service: str  # compose's service name
    name: str
    status: str  # the engine's: created, running, exited, restarting, …
    exit_code: int | None
    error: str
    health: str  # healthy | unhealthy | starting; "" without a healthcheck
    last_check: HealthCheck | None
    started_at: datetime | None  # None when it never started
    ports: dict[int, int] = field(default_factory=dict)  # published TCP: container → host port


class ContainerEngine(Protocol):
    """What the project needs of the engine that runs its compose stack."""

    project: str

    def containers(self) -> list[ContainerInfo]:
        """Every container of the project (not one-off ``compose run`` containers)."""
        ...

    def container(self, service: str) -> ContainerInfo:
        """The container of ``service``; :class:`Missing` names the known services."""
        ...

    def start(self, service: str) -> None:
        """Start the container of ``service`` (returns once the engine has started it)."""
        ...

    def stop(self, service: str, timeout: int = 10) -> None:
        """Stop it: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        ...

    def logs(self, service: str, lines: int = 100) -> str:
        """The last ``lines`` lines it wrote (stdout and stderr)."""
        ...


class DockerEngine(ContainerEngine):
    """The Docker engine, through the docker SDK.

    ``client_factory`` builds a ``docker.DockerClient`` (``docker.from_env`` by default, so
    ``DOCKER_HOST`` is honoured); it is called on first use, so an engine that is down is reported
    by the first call, as :class:`Unreachable`, not when the adapter is built.
    """

    def __init__(
        self, project: str, client_factory: Callable[[], Any] | None = None, timeout: int = 5
    ) -> None:
        self.project = project
        self._factory = client_factory or (lambda: docker.from_env(timeout=timeout))
        self._client: Any = None

    def containers(self) -> list[ContainerInfo]:
        """Every container of the project (not one-off ``compose run`` containers)."""
        return [parse_container(c.attrs) for c in self._sdk_containers().values()]

    def container(self, service: str) -> ContainerInfo:
        """The container of ``service``; :class:`Missing` names the known services."""
        return parse_container(self._sdk_container(service).attrs)

    def start(self, service: str) -> None:
        """Start the container of ``service``."""
        self._call(self._sdk_container(service).start)

    def stop(self, service: str, timeout: int = 10) -> None:
        """Stop it: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        self._call(self._sdk_container(service).stop, timeout=timeout)

    def logs(self, service: str, lines: int = 100) -> str:
        """The last ``lines`` lines it wrote (stdout and stderr)."""
        raw = self._call(self._sdk_container(service).logs, tail=lines)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def _sdk_containers(self) -> dict[str, Any]:
        client = self._connect()
        # Not one-off containers (`docker compose run`), which carry the same service label.
        labels = [f"{PROJECT_LABEL}={self.project}", f"{ONEOFF_LABEL}=False"]
        found = self._call(
            client.containers.list, all=True, filters={"label": labels}, ignore_removed=True
        )
        return {_service(c.attrs): c for c in found}

    def _sdk_container(self, service: str) -> Any:
        containers = self._sdk_containers()
        if service not in containers:
            known = ", ".join(sorted(containers)) or "none"
            raise Missing(
                f"No container for service {service!r} in compose project {self.project!r} "
                f"(known: {known})."
            )
        return containers[service]

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
                raise Missing(f"The container is gone: {exc}") from exc
            if isinstance(exc, docker_errors.APIError):
                raise Refused(f"The Docker engine refused: {exc.explanation}") from exc
            self._client = None  # connect again next time
            raise _unreachable(exc) from exc
        except requests.RequestException as exc:
            self._client = None
            raise _unreachable(exc) from exc


def parse_container(attrs: dict[str, Any]) -> ContainerInfo:
    """A container's inspect data (the SDK's ``Container.attrs``) as a record.

    Args:
        attrs: The engine's JSON for one container (``docker inspect``).

    Returns:
        Its service, state, last health probe, start time and published TCP ports.
    """
    state = attrs.get("State") or {}
    health = state.get("Health") or {}
    probes = health.get("Log") or []
    last = probes[-1] if probes else None
    return ContainerInfo(
        service=_service(attrs),
        name=str(attrs.get("Name") or "").lstrip("/"),
        status=str(state.get("Status", "unknown")),
        exit_code=state.get("ExitCode"),
        error=str(state.get("Error") or ""),
        health=str(health.get("Status") or ""),
        last_check=HealthCheck(
            parse_time(last.get("Start")),
            parse_time(last.get("End")),
            last.get("ExitCode"),
            str(last.get("Output") or ""),
        )
        if last
        else None,
        started_at=parse_time(state.get("StartedAt")),
        ports=_published((attrs.get("NetworkSettings") or {}).get("Ports")),
    )


def parse_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times have nanoseconds; Python keeps microseconds.

    Args:
        value: e.g. ``2026-11-27T08:00:00.123456789Z``; Docker's zero time means "never".

    Returns:
        The time, in UTC when it has no zone; None for an empty or zero time.
    """
    if not value or value.startswith("0001-"):
        return None
    head, _, fraction = value.rstrip("Z").partition(".")
    digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
    parsed = datetime.fromisoformat(f"{head}.{digits or '0'}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _service(attrs: dict[str, Any]) -> str:
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return str(labels.get(SERVICE_LABEL) or str(attrs.get("Name") or "").lstrip("/"))


def _published(ports: dict[str, Any] | None) -> dict[int, int]:
    published: dict[int, int] = {}
    for key, bindings in (ports or {}).items():
        port, _, protocol = key.partition("/")
        for binding in bindings or []:
            if protocol == "tcp" and binding.get("HostPort") and int(port) not in published:
                published[int(port)] = int(binding["HostPort"])
    return published


def _unreachable(exc: Exception) -> Unreachable:
    cause = " ".join(str(exc).split())[:160] or type(exc).__name__
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return Unreachable(f"The Docker engine is not reachable at {where} ({cause})")
