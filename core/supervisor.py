"""A small process supervisor: start, stop and health-check services, one process group each.

State is only PID files (with the process's start time, so a reused PID is never trusted) under
``<var_dir>/run`` and logs under ``<var_dir>/logs``: any process can ask what runs. Both are private
to the owner (0600 in 0700 folders), and so is whatever the services write: they start with the
umask of :mod:`core.runtime_files`. Which services local mode runs, and the ``make run`` entry
point, live in :mod:`core.local_stack`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from core.processes import alive, group_members, probe_health, signal_group, start_time
from core.runtime_files import PRIVATE_UMASK, open_private
from core.settings import REPO_ROOT


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


class Supervisor:
    """Starts, stops and checks local services; state is only PID files, so any process can ask."""

    def __init__(self, var_dir: Path, specs: Sequence[ServiceSpec]) -> None:
        self._run_dir = var_dir / "run"
        self._log_dir = var_dir / "logs"
        self.specs = {spec.name: spec for spec in specs}

    def start(self, name: str) -> ServiceStatus:
        """Start a service unless it already runs; refuse when its port is taken by another."""
        spec = self.specs[name]
        current = self.status(name)
        if current.running:
            return current
        for dependency in (self.specs[n] for n in spec.needs if n in self.specs):
            # Started without it, a dependent dies at once (the worker without Prefect) and
            # stays stopped: better to say so now.
            if not (status := self.status(dependency.name)).healthy:
                raise SupervisorError(
                    f"Not starting the {spec.title}: it needs the {dependency.title}, which is "
                    f"{status.reason or 'not healthy'}. Start {dependency.name} first."
                )
        _check_port_free(spec)
        for folder in (self._run_dir, self._log_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        with open_private(self._log_path(name), append=True) as out:
            out.write(f"\n--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S} starting {name}\n".encode())
            out.flush()
            process = subprocess.Popen(
                spec.command,
                cwd=REPO_ROOT,
                env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
                umask=PRIVATE_UMASK,  # its database, logs and reports: the owner's only
            )
        # The start time makes the PID file safe to trust later: after a reboot or a crash the
        # same PID may belong to an unrelated process, which must never be signalled.
        with open_private(self._pid_path(name)) as pid_file:
            pid_file.write(f"{process.pid} {start_time(process.pid)}".encode())
        return self.status(name)

    def start_in_order(self, names: Sequence[str], timeout: float = 120.0) -> list[ServiceStatus]:
        """Start services and what they need, wave by wave, each wave healthy before the next.

        Services of one wave start side by side. When one does not become healthy within
        ``timeout`` seconds (or exits), what depends on it is not started and the error says so.
        """
        started: list[ServiceStatus] = []
        waves = self.start_order(names)
        for number, wave in enumerate(waves):
            for name in wave:
                self.start(name)
            for name in wave:
                try:
                    started.append(self.wait_healthy(name, timeout))
                except SupervisorError as exc:
                    later = [n for w in waves[number + 1 :] for n in w]
                    if later:
                        raise SupervisorError(
                            f"{exc}\nNot started, as they come after it: {', '.join(later)}"
                        ) from exc
                    raise
        return started

    def start_order(self, names: Sequence[str]) -> list[list[str]]:
        """``names`` and what they need, in waves: each service after everything it needs."""
        depth: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> int:
            if name in path:
                cycle = ", ".join(sorted(path[path.index(name) :]))
                raise SupervisorError(f"Services depend on each other: {cycle}")
            if name not in depth:
                spec = self.specs[name]
                needs = [n for n in (*spec.needs, *spec.after) if n in self.specs]
                depth[name] = 1 + max((visit(n, (*path, name)) for n in needs), default=-1)
            return depth[name]

        for name in names:
            visit(name, ())
        if not depth:
            return []
        waves = [
            [n for n in self.specs if depth.get(n) == d] for d in range(max(depth.values()) + 1)
        ]
        return [wave for wave in waves if wave]

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop a service and its children (SIGTERM, then SIGKILL after ``timeout``)."""
        pid = self._pid(name)
        if pid is not None and alive(pid):
            # The service was started as a group leader (start_new_session): its group id is its
            # PID, and the group includes the children it started (servers' workers, flow runs).
            signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while group_members(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if group_members(pid):
                signal_group(pid, signal.SIGKILL)
                while group_members(pid) and time.monotonic() < deadline + 5:
                    time.sleep(0.1)
        self._pid_path(name).unlink(missing_ok=True)

    def restart(self, name: str) -> ServiceStatus:
        """Stop, then start."""
        self.stop(name)
        return self.start(name)

    def running(self, name: str) -> bool:
        """Whether its process is alive (no health check: cheap enough to poll)."""
        pid = self._pid(name)
        return pid is not None and alive(pid)

    def status(self, name: str) -> ServiceStatus:
        """Running (PID alive) and healthy (health URL answers 200, or running when none)."""
        spec = self.specs[name]
        pid = self._pid(name)
        running = pid is not None and alive(pid)
        reason, check_ms = "" if running else "stopped (no process)", None
        if running and spec.health_url:
            reason, check_ms = probe_health(spec.health_url)
        try:
            started = datetime.fromtimestamp(self._pid_path(name).stat().st_mtime, UTC)
        except FileNotFoundError:  # stopped meanwhile
            started = None
        return ServiceStatus(
            name,
            spec.title,
            pid if running else None,
            running,
            running and not reason,
            spec.url,
            started if running else None,
            self._log_path(name),
            reason,
            check_ms,
        )

    def wait_healthy(self, name: str, timeout: float = 120.0) -> ServiceStatus:
        """Block until healthy; raise with the log's tail when it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(name)
            if status.healthy:
                return status
            if not status.running:
                raise SupervisorError(f"{name} exited:\n{self.log_tail(name)}")
            time.sleep(0.5)
        raise SupervisorError(f"{name} not healthy after {timeout:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines of a service's log."""
        path = self._log_path(name)
        if not path.exists():
            return "(no log yet)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _pid(self, name: str) -> int | None:
        """The service's PID if that process is still the one this supervisor started."""
        try:
            pid_text, started = self._pid_path(name).read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        return pid if start_time(pid) == started else None

    def _pid_path(self, name: str) -> Path:
        return self._run_dir / f"{name}.pid"

    def _log_path(self, name: str) -> Path:
        return self._log_dir / f"{name}.log"


def _check_port_free(spec: ServiceSpec) -> None:
    if spec.url is None:
        return
    parts = urlsplit(spec.url)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", parts.port or 80))
        except OSError as exc:
            raise SupervisorError(
                f"Port {parts.port} for the {spec.title} is taken by another process. Stop that "
                f"process, or choose another port with {spec.setting}."
            ) from exc
