"""The servers under test in the serving benchmark: starting, stopping and reading them.

Each server runs in its own process group with this run's stores only; what it costs is read
from ``/proc`` (CPU time, memory) and from the API's own ``/metrics``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import isolated_env, process_group, wait_http

START_TIMEOUT_S = 240
JSON = {"Content-Type": "application/json"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MICROBATCH = "rakuten_api_microbatch_size"  # the API's histogram of products per model call


def child_env(tmp: Path) -> dict[str, str]:
    """The environment of every child: this run's stores only, nothing from the caller's."""
    (tmp / "tmp").mkdir(exist_ok=True)
    return isolated_env(
        "RAKUTEN_",
        "MLFLOW_",
        RAKUTEN_MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        RAKUTEN_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        RAKUTEN_VAR_DIR=str(tmp / "var"),
        RAKUTEN_API_BATCH_LIMIT="1000",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        MLFLOW_DISABLE_TELEMETRY="true",
        TMPDIR=str(tmp / "tmp"),  # MLflow copies the model there; removed with the run
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # `uvicorn`
    )


@dataclass
class Server:
    """A server under test: where it listens and which process does the serving."""

    name: str
    port: int
    group: subprocess.Popen[bytes]  # the process started (leader of its own process group)
    log: Path
    ready_path: str
    serving_pid: int = 0  # the uvicorn process (for MLflow, a child of the `mlflow` CLI)

    def tree(self) -> list[int]:
        return [self.group.pid, *descendants(self.group.pid)]


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@contextlib.contextmanager
def serve(
    name: str, command: list[str], tmp: Path, ready_path: str, **extra_env: str
) -> Iterator[Server]:
    """Start ``command`` in its own process group; stop the whole group on the way out."""
    log = tmp / f"{name}.log"
    env = child_env(tmp) | extra_env
    with process_group(command, cwd=tmp, env=env, log=log) as process:
        port = int(command[command.index("--port") + 1])
        yield Server(name, port, process, log, ready_path)


def wait_ready(server: Server) -> float:
    """Block until the server answers 200 on its readiness path; returns the seconds waited."""
    start = time.monotonic()
    url = f"http://127.0.0.1:{server.port}{server.ready_path}"
    wait_http(server.name, url, server.group, server.log, START_TIMEOUT_S)
    server.serving_pid = next(p for p in reversed(server.tree()) if "uvicorn" in cmdline(p))
    return time.monotonic() - start


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime, all threads


def post_json(server: Server, path: str, body: bytes) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", data=body, headers=JSON, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def api_metrics(server: Server, *prefixes: str) -> dict[str, float]:
    """The API's own series whose names start with one of ``prefixes``, from ``/metrics``."""
    url = f"http://127.0.0.1:{server.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefixes):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def microbatch_metrics(server: Server) -> dict[str, float]:
    """The API's micro-batch size histogram (buckets, ``_sum``, ``_count``)."""
    return api_metrics(server, MICROBATCH)


def log_problems(log: Path) -> list[str]:
    """Lines of a server's log that report an exception or an error."""
    keys = ("Traceback", "ERROR", "Exception", "exception", "CRITICAL")
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if any(k in line for k in keys)
    ]
