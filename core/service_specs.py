"""What the supervisor runs and what it sees: a service's spec, its status, its crash, and the
error a start or a stop raises (:mod:`core.supervisor` runs them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.restarts.policy import RestartRecord


class SupervisorError(RuntimeError):
    """A service could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one local service and how to tell that it is healthy."""

    name: str
    title: str
    command: list[str]
    url: str | None = None
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    setting: str | None = None  # the RAKUTEN_ variable that holds its URL
    # Services that must be healthy before this one starts (those not supervised are ignored:
    # a remote server is someone else's to start).
    needs: tuple[str, ...] = ()
    # Started after these when started together, but not refused without them: the API and the
    # app keep working (and say why) while a server they read is down.
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceStatus:
    """What the supervisor sees of one service."""

    name: str
    title: str
    pid: int | None
    running: bool
    healthy: bool
    url: str | None
    started_at: datetime | None
    log_path: Path
    reason: str = ""  # why it is not healthy, in words ("" when healthy)
    check_ms: float | None = None  # how long the health check took
    restarts: RestartRecord = field(default_factory=RestartRecord)


@dataclass(frozen=True)
class Crash:
    """A service whose process died without being stopped."""

    exit_code: int | None  # negative: the signal; None when another process started it


def start_waves(specs: Mapping[str, ServiceSpec], names: Sequence[str]) -> list[list[str]]:
    """``names`` and what they need, in waves: each service after everything it needs.

    Args:
        specs: Every supervised service by name (a need that is not one is someone else's).
        names: The services to start.

    Returns:
        Waves of names, in ``specs`` order within a wave.

    Raises:
        SupervisorError: When services depend on each other.
    """
    depth: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            cycle = ", ".join(sorted(path[path.index(name) :]))
            raise SupervisorError(f"Services depend on each other: {cycle}")
        if name not in depth:
            spec = specs[name]
            needs = [n for n in (*spec.needs, *spec.after) if n in specs]
            depth[name] = 1 + max((visit(n, (*path, name)) for n in needs), default=-1)
        return depth[name]

    for name in names:
        visit(name, ())
    if not depth:
        return []
    waves = [[n for n in specs if depth.get(n) == d] for d in range(max(depth.values()) + 1)]
    return [wave for wave in waves if wave]
