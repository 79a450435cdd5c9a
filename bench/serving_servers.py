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
from dataclasses import dataclass, field
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
    workers: int
    serving_pids: list[int] = field(default_factory=list)  # the processes that answer requests

    def tree(self) -> list[int]:
        return [self.group.pid, *descendants(self.group.pid)]

    def find_serving(self) -> list[int]:
        """The leaves of the process tree: uvicorn's workers (or uvicorn alone, with one)."""
        tree = self.tree()
        parents = {parent_of(pid) for pid in tree}
        leaves = [
            pid for pid in tree if pid not in parents and "resource_tracker" not in cmdline(pid)
        ]
        self.serving_pids = leaves
        return leaves


def parent_of(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return 0


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
    name: str, command: list[str], tmp: Path, ready_path: str, workers: int, **extra_env: str
) -> Iterator[Server]:
    """Start ``command`` in its own process group; stop the whole group on the way out."""
    log = tmp / f"{name}.log"
    env = child_env(tmp) | extra_env
    with process_group(command, cwd=tmp, env=env, log=log) as process:
        port = int(command[command.index("--port") + 1])
        yield Server(name, port, process, log, ready_path, workers)


def wait_ready(server: Server, since: float | None = None) -> float:
    """Block until the server answers 200 on its readiness path and every worker runs.

    Returns:
        Seconds since ``since`` (a ``time.monotonic()``; default: now).
    """
    start = time.monotonic() if since is None else since
    url = f"http://127.0.0.1:{server.port}{server.ready_path}"
    wait_http(server.name, url, server.group, server.log, START_TIMEOUT_S)
    elapsed = time.monotonic() - start
    while len(server.find_serving()) < server.workers:  # uvicorn starts them one by one
        if time.monotonic() - start > START_TIMEOUT_S:
            raise SystemExit(f"{server.name}: {server.serving_pids} of {server.workers} workers")
        time.sleep(0.2)
    return elapsed


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
