"""Local-mode service supervisor: start, stop and health-check the control room's processes.

    python -m core.supervisor run     # what `make run` does: start everything, wait for Ctrl-C
    python -m core.supervisor up|down|status [service ...]

Services: the MLflow tracking server (SQLite backend, local artifacts), the Prefect server, the
flows worker that serves this project's deployments, and the Streamlit app. Each runs in its own
process group; its PID file and log live under ``<var_dir>/run`` and ``<var_dir>/logs``. A URL
in the settings that points at another host (the compose stack) is used as it is and not started.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from core.settings import REPO_ROOT, Settings, get_settings

log = logging.getLogger("core.supervisor")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
QUIET_ENV = {
    # No telemetry or update checks: the machine may have no internet, and nothing should call out.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
}


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


def local_services(settings: Settings) -> list[ServiceSpec]:
    """The services local mode runs, in start order, skipping those configured as remote."""
    bin_dir = Path(sys.executable).parent
    var = settings.var_dir.resolve()
    env = {**QUIET_ENV, "PREFECT_API_URL": settings.prefect_api_url}
    specs: list[ServiceSpec] = []
    mlflow = urlsplit(settings.mlflow_tracking_uri)
    if mlflow.scheme.startswith("http") and mlflow.hostname in LOCAL_HOSTS:
        specs.append(
            ServiceSpec(
                "mlflow", "MLflow tracking server",
                [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1",
                 "--port", str(mlflow.port or 80),
                 "--backend-store-uri", f"sqlite:///{var / 'mlflow' / 'mlflow.db'}",
                 "--artifacts-destination", str(var / "mlflow" / "artifacts"),
                 "--workers", "1"],
                url=settings.mlflow_tracking_uri,
                health_url=f"{settings.mlflow_tracking_uri.rstrip('/')}/health",
                env=env, setting="RAKUTEN_MLFLOW_TRACKING_URI",
            )
        )  # fmt: skip
    prefect = urlsplit(settings.prefect_api_url)
    if prefect.hostname in LOCAL_HOSTS:
        specs.append(
            ServiceSpec(
                "prefect", "Prefect server",
                [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1",
                 "--port", str(prefect.port or 80)],
                url=settings.prefect_api_url.removesuffix("/api"),
                health_url=f"{settings.prefect_api_url.rstrip('/')}/health",
                env={**env, "PREFECT_HOME": str(var / "prefect")},
                setting="RAKUTEN_PREFECT_API_URL",
            )
        )  # fmt: skip
    specs.append(
        ServiceSpec(
            "worker", "Flows worker (serves the deployments)",
            [sys.executable, "-m", "core.flows.serve"],
            env={**env, "PREFECT_HOME": str(var / "prefect")},
        )
    )  # fmt: skip
    specs.append(
        ServiceSpec(
            "app", "Control room (Streamlit)",
            [str(bin_dir / "streamlit"), "run", str(REPO_ROOT / "app" / "Home.py"),
             "--server.port", str(settings.app_port), "--server.address", "127.0.0.1",
             "--server.headless", "true"],
            url=f"http://127.0.0.1:{settings.app_port}",
            health_url=f"http://127.0.0.1:{settings.app_port}/_stcore/health",
            env=env, setting="RAKUTEN_APP_PORT",
        )
    )  # fmt: skip
    return specs


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
        _check_port_free(spec)
        self._run_dir.mkdir(parents=True, exist_ok=True)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        with self._log_path(name).open("ab") as out:
            out.write(f"\n--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S} starting {name}\n".encode())
            out.flush()
            process = subprocess.Popen(
                spec.command, cwd=REPO_ROOT, env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
            )  # fmt: skip
        # The start time makes the PID file safe to trust later: after a reboot or a crash the
        # same PID may belong to an unrelated process, which must never be signalled.
        self._pid_path(name).write_text(f"{process.pid} {_start_time(process.pid)}")
        return self.status(name)

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop a service and its children (SIGTERM, then SIGKILL after ``timeout``)."""
        pid = self._pid(name)
        if pid is not None and _alive(pid):
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
        self._pid_path(name).unlink(missing_ok=True)

    def restart(self, name: str) -> ServiceStatus:
        """Stop, then start."""
        self.stop(name)
        return self.start(name)

    def status(self, name: str) -> ServiceStatus:
        """Running (PID alive) and healthy (health URL answers 200, or running when none)."""
        spec = self.specs[name]
        pid = self._pid(name)
        running = pid is not None and _alive(pid)
        healthy = running and (spec.health_url is None or _answers(spec.health_url))
        started = (
            datetime.fromtimestamp(self._pid_path(name).stat().st_mtime, UTC) if running else None
        )
        return ServiceStatus(
            name, spec.title, pid if running else None, running, healthy, spec.url, started,
            self._log_path(name),
        )  # fmt: skip

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
        return pid if _start_time(pid) == started else None

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


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def run(settings: Settings, supervisor: Supervisor) -> None:
    """Start every service, print where they are, and stop them all on Ctrl-C or SIGTERM.

    An interruption during start-up stops what was already started, too.
    """
    names = list(supervisor.specs)
    servers = [n for n in names if n in {"mlflow", "prefect"}]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Servers first (they start side by side), so the worker and the app find them.
        for name in servers:
            supervisor.start(name)
        for name in servers:
            supervisor.wait_healthy(name)
        for name in names:
            supervisor.start(name)
        for name in names:
            supervisor.wait_healthy(name)
        for name in names:
            status = supervisor.status(name)
            log.info("  %-40s %s", status.title, status.url or f"pid {status.pid}")
        log.info("Control room: http://127.0.0.1:%s  (Ctrl-C stops everything)", settings.app_port)
        _watch(supervisor, names)
    except KeyboardInterrupt:
        log.info("Stopping…")
    except SupervisorError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from exc
    finally:
        _stop_all(supervisor)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _watch(supervisor: Supervisor, names: list[str]) -> None:
    reported: set[str] = set()
    while True:
        time.sleep(1)
        for name in names:
            if name not in reported and not supervisor.status(name).running:
                reported.add(name)
                log.error("%s stopped unexpectedly; its log: %s", name, supervisor.log_tail(name))


def _stop_all(supervisor: Supervisor) -> None:
    for name in reversed(list(supervisor.specs)):
        supervisor.stop(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    parser = argparse.ArgumentParser(prog="python -m core.supervisor")
    parser.add_argument("command", choices=["run", "up", "down", "status"])
    parser.add_argument("services", nargs="*", help="default: all")
    args = parser.parse_args(argv)
    settings = get_settings()
    supervisor = Supervisor(settings.var_dir, local_services(settings))
    names = args.services or list(supervisor.specs)
    unknown = sorted(set(names) - set(supervisor.specs))
    if unknown:
        parser.error(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(supervisor.specs)}"
        )
    if args.command == "run":
        run(settings, supervisor)
    elif args.command == "up":
        for name in names:
            supervisor.start(name)
        for name in names:
            supervisor.wait_healthy(name)
    elif args.command == "down":
        for name in reversed(names):
            supervisor.stop(name)
    for name in names:
        s = supervisor.status(name)
        state = "healthy" if s.healthy else "running" if s.running else "stopped"
        log.info("%-8s %-8s pid=%-7s %s", name, state, s.pid or "-", s.url or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
