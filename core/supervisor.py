"""A small process supervisor: start, stop and health-check services, one process group each.

State is PID files (with the process's start time, so a reused PID is never trusted) and restart
records (:mod:`core.restarts`) under ``<var_dir>/run``, logs under ``<var_dir>/logs``: any process
can ask what runs. A stop removes the PID file, so one whose process is gone means a crash, which
the restart policy of ``make run`` may undo (a stop, never). Starts and stops hold a lock file per
service: the policy and a person never act on one at once. All is private to the owner (0600 in
0700 folders), and so is what the services write: they start with the umask of
:mod:`core.runtime_files`. Which services local mode runs, and ``make run``, are in
:mod:`core.local_stack`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from core.processes import alive, file_lock, group_members, probe_health, signal_group, start_time
from core.restarts.ledger import RestartLedger
from core.restarts.policy import RestartRecord, after_manual_start
from core.runtime_files import PRIVATE_UMASK, open_private
from core.service_specs import Crash, ServiceSpec, ServiceStatus, SupervisorError, start_waves
from core.settings import REPO_ROOT

__all__ = ["Crash", "ServiceSpec", "ServiceStatus", "Supervisor", "SupervisorError"]


class Supervisor:
    """Starts, stops and checks local services; state is only files, so any process can ask."""

    def __init__(self, var_dir: Path, specs: Sequence[ServiceSpec]) -> None:
        self._run_dir = var_dir / "run"
        self._log_dir = var_dir / "logs"
        self.specs = {spec.name: spec for spec in specs}
        self.ledger = RestartLedger(self._run_dir)
        # The processes this object started: only a parent learns its child's exit code.
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> ServiceStatus:
        """Start a service unless it already runs; refuse when its port is taken by another.

        A person's start gives the restart policy a fresh window (one it had given up on, too).
        """
        with self._locked(name):
            current = self.status(name)
            if current.running:
                return current
            record = self.ledger.read(name)
            if record.crashes or record.given_up:
                self.ledger.write(name, after_manual_start(record))
            self._end_orphans(name)  # of a crash: the API's workers would keep its port
            return self._launch(name)

    @contextmanager
    def crash(self, name: str) -> Iterator[Crash | None]:
        """The service's crash, or None (not crashed, or another process starts or stops it).

        While the block runs nobody else starts or stops the service: call :meth:`relaunch` or
        :meth:`leave_stopped` inside it.
        """
        self._make_run_dir()
        with file_lock(self._lock_path(name), wait=False) as held:
            # A stop removes the PID file under this lock: a file left behind is a crash.
            if held and self._pid_path(name).exists() and not self.running(name):
                yield Crash(self._exit_code(name))
            else:
                yield None

    def relaunch(self, name: str) -> ServiceStatus:
        """Start a crashed service again (inside :meth:`crash` only)."""
        self._end_orphans(name)
        return self._launch(name)

    def leave_stopped(self, name: str) -> None:
        """Forget a crashed service's process, so it shows as stopped (inside :meth:`crash`)."""
        self._end_orphans(name)
        self._pid_path(name).unlink(missing_ok=True)

    def _end_orphans(self, name: str, timeout: float = 10.0) -> None:
        # Its leader is gone, but what it started may still run in its group. Linux does not hand
        # the group's id (the dead leader's PID) out again while the group lives, so a live group
        # without a live leader is that one; a live process with that PID is someone else's.
        try:
            pgid = int(self._pid_path(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not alive(pgid) and group_members(pgid):
            self._end_group(pgid, timeout)

    def _launch(self, name: str) -> ServiceStatus:
        spec = self.specs[name]
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
        self._children[name] = process
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
        return start_waves(self.specs, names)

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop a service and its children (SIGTERM, then SIGKILL after ``timeout``)."""
        with self._locked(name):
            self._stop(name, timeout)
        if (child := self._children.pop(name, None)) is not None:
            child.poll()  # reap it: no zombie left in a long-lived parent

    def _stop(self, name: str, timeout: float) -> None:
        pid = self._pid(name)
        if pid is not None and alive(pid):
            # The service was started as a group leader (start_new_session): its group id is its
            # PID, and the group includes the children it started (servers' workers, flow runs).
            self._end_group(pid, timeout)
        else:  # crashed: what it started may still run
            self._end_orphans(name, timeout)
        self._pid_path(name).unlink(missing_ok=True)

    @staticmethod
    def _end_group(pid: int, timeout: float) -> None:
        signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_members(pid):
            signal_group(pid, signal.SIGKILL)
            while group_members(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.1)

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
        restarts = self.ledger.read(name)
        reason, check_ms = "" if running else self._why_stopped(name, restarts), None
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
            restarts,
        )

    def _why_stopped(self, name: str, restarts: RestartRecord) -> str:
        if restarts.given_up:
            return restarts.reason
        if self._pid_path(name).exists():
            return "exited without being stopped; see its log"
        return "stopped (no process)"

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

    def _exit_code(self, name: str) -> int | None:
        child = self._children.get(name)
        try:
            pid = int(self._pid_path(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return child.poll() if child is not None and child.pid == pid else None

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        self._make_run_dir()
        with file_lock(self._lock_path(name)):
            yield

    def _make_run_dir(self) -> None:
        self._run_dir.mkdir(parents=True, exist_ok=True)
        self._run_dir.chmod(0o700)

    def _lock_path(self, name: str) -> Path:
        return self._run_dir / f"{name}.lock"

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
