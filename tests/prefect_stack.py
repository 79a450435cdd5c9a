"""A real Prefect server (Prefect's test harness) and the real flows worker
(`python -m core.flows.serve`), for the integration tests that drive them.

Plain functions, not fixtures: each test module builds its own module-scoped fixtures from them, so
each gets a Prefect server of its own (the worker's start-up sweep assumes one worker per server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.managers.flows import PrefectManager
from core.access import Actor
from core.adapters.flows import FlowRunInfo
from core.data import loading
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.flows.serve import READY
from core.processes import group_members, signal_group
from core.settings import REPO_ROOT
from core.train import TrainConfig

SMALL = TrainConfig(max_features=5_000, word_ngram_max=1)
# Slow enough to be caught running (a few seconds on 20,000 products), for a crash or a cancel.
SLOW = TrainConfig(char_ngrams=True, word_ngram_max=3)
STARTUP_S = 240  # worker imports + fork-server imports, on a shared 2-core machine


@contextmanager
def prefect_server() -> Iterator[str]:
    """A fresh Prefect server (SQLite) for the block; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def worker_env(prefect_api: str, var: Path) -> dict[str, str]:
    """The worker's environment on a fresh ``var`` folder holding 20,000 products loaded to 40 %."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RAKUTEN_", "MLFLOW_"))},
        "PREFECT_API_URL": prefect_api,
        "RAKUTEN_VAR_DIR": str(var),
        "RAKUTEN_DATABASE_URL": f"sqlite:///{var / 'db.sqlite'}",
        "RAKUTEN_MLFLOW_TRACKING_URI": f"sqlite:///{var / 'mlflow.db'}",
        "RAKUTEN_API_URL": "http://127.0.0.1:1",  # no API: a promotion's reload says so
    }
    engine = make_engine(env["RAKUTEN_DATABASE_URL"])
    ensure_schema(engine)
    admin = Actor.local_admin()
    catalogue = generate_catalogue(20_000, seed=3)
    import_products(engine, catalogue, source="t", holdout_fraction=0.15, seed=3, actor=admin)
    loading.initialize(engine, 4_000, admin)
    engine.dispose()
    return env


def start_worker(env: dict[str, str], log: Path, *, wait: bool = True) -> subprocess.Popen[bytes]:
    """Start the worker as the supervisor does (its own process group, its output to ``log``),
    by default returning once it serves its deployments (:func:`wait_serving`)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.flows.serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, like the supervisor's services
        )
    if wait:
        wait_serving(process, log)
    return process


def wait_serving(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the worker started with :func:`start_worker` serves its deployments."""
    deadline = time.monotonic() + STARTUP_S
    while READY not in (text := log.read_text()):
        if process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}):\n{text}")
        if time.monotonic() > deadline:
            stop_worker(process)
            raise AssertionError(f"no {READY!r} after {STARTUP_S} s:\n{text}")
        time.sleep(0.5)


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Stop the worker and everything in its process group (SIGTERM, then SIGKILL what is left
    after ``timeout`` seconds), even when the worker itself is gone already."""
    signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (process.poll() is None or group_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    signal_group(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(
    manager: PrefectManager, run_id: str, *states: str, timeout: float = 180
) -> FlowRunInfo:
    """The run once its state type is one of ``states``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = manager.flow_run(run_id)
        if run.state_type in states:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} never reached {states}: {run.state_name}")
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> str:
    """The process's command line, space-separated."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def run_process(worker_pid: int) -> tuple[int, int]:
    """The flow run's process and its parent (the fork server, a child of the worker)."""
    for server in children(worker_pid):
        if "forkserver" in cmdline(server):
            runs = children(server)
            if runs:
                return runs[0], server
    raise AssertionError("no flow-run process under the worker's fork server")
