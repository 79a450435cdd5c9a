"""The flows worker (`python -m core.flows.serve`, as `make run` starts it) against a real Prefect
server (test harness): a run is a fork of its warm process, shows its states and logs, is marked
Crashed when its process dies without taking the worker with it, and can be cancelled."""

from __future__ import annotations

import inspect
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import pytest
import requests
from prefect import flow_engine
from prefect.runner import _starter_direct

from app.managers.flows import PrefectManager
from core.access import Actor
from core.adapters.flows import FlowRunInfo, PrefectRest
from core.flows.data import load_data_flow
from core.flows.names import LOAD_DATA_DEPLOYMENT, TRAIN_DEPLOYMENT
from core.flows.warm import warm_processes
from tests.prefect_stack import (
    SLOW,
    SMALL,
    cmdline,
    prefect_server,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from tests.prefect_stack import run_process as run_process_of


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    with prefect_server() as url:
        yield url


@pytest.fixture(scope="module")
def worker(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The worker on a fresh var/ folder with 20,000 products loaded to 40 %."""
    var = tmp_path_factory.mktemp("var")
    log = var / "worker.log"
    process = start_worker(worker_env(prefect_api, var), log)
    try:
        yield {"process": process, "log": log, "manager": PrefectManager(PrefectRest(prefect_api))}
    finally:
        stop_worker(process)


def run_process(worker: dict) -> tuple[int, int]:
    """The flow run's process and its parent (the fork server, a child of the worker)."""
    return run_process_of(worker["process"].pid)


def test_prefect_still_starts_served_runs_through_the_seam_we_replace() -> None:
    # The Runner starts a flow held in memory with DirectSubprocessStarter, which calls
    # flow_engine.run_flow_in_subprocess, which asks flow_engine.multiprocessing for "spawn".
    assert _starter_direct.run_flow_in_subprocess is flow_engine.run_flow_in_subprocess
    source = inspect.getsource(flow_engine.run_flow_in_subprocess)
    assert 'multiprocessing.get_context("spawn")' in source
    original = flow_engine.multiprocessing
    with warm_processes() as context:
        assert flow_engine.multiprocessing.get_context("spawn") is context
        assert flow_engine.multiprocessing.get_context("fork") is not context
        # The flow goes by name: the fork's own module, its globals, its string annotations.
        assert cloudpickle.loads(cloudpickle.dumps(load_data_flow)) is load_data_flow
    assert flow_engine.multiprocessing is original
    assert cloudpickle.loads(cloudpickle.dumps(load_data_flow)) is not load_data_flow


def test_a_run_is_a_fork_of_the_warm_process_with_its_states_and_logs(worker: dict) -> None:
    manager = worker["manager"]
    log = worker["log"].read_text()
    assert "Flow runs fork from a warm process" in log
    run = manager.trigger(TRAIN_DEPLOYMENT, {"config": SMALL.model_dump()}, Actor.os_user())
    done = wait_for(manager, run.id, "COMPLETED", "FAILED", "CRASHED")
    assert done.state_type == "COMPLETED", done.message
    deadline = time.monotonic() + 30  # the run's last log lines are sent as its process ends
    while time.monotonic() < deadline:
        messages = [line.message for line in manager.progress(run.id).logs]
        if any(m.startswith("Registered version") for m in messages):
            break
        time.sleep(0.5)
    assert any(m.startswith("Fitted ") for m in messages), messages
    assert any(m.startswith("Registered version 1 ") for m in messages), messages


def test_a_run_whose_process_dies_is_crashed_and_the_worker_serves_on(worker: dict) -> None:
    manager = worker["manager"]
    run = manager.trigger(TRAIN_DEPLOYMENT, {"config": SLOW.model_dump()}, Actor.os_user())
    wait_for(manager, run.id, "RUNNING")
    pid, parent = run_process(worker)
    assert "forkserver" in cmdline(parent)  # forked from the warm process, not a new python
    os.kill(pid, signal.SIGKILL)
    crashed = wait_for(manager, run.id, "CRASHED", "COMPLETED", "FAILED", timeout=60)
    assert crashed.state_type == "CRASHED" and "-9" in crashed.message
    assert worker["process"].poll() is None
    again = manager.trigger(LOAD_DATA_DEPLOYMENT, {"action": "next_batch"}, Actor.local_admin())
    done = wait_for(manager, again.id, "COMPLETED", "FAILED", "CRASHED")
    assert done.state_type == "COMPLETED", f"{done.message}\n{worker['log'].read_text()[-4000:]}"


def test_a_running_run_can_be_cancelled(worker: dict, prefect_api: str) -> None:
    manager = worker["manager"]
    run = manager.trigger(TRAIN_DEPLOYMENT, {"config": SLOW.model_dump()}, Actor.os_user())
    wait_for(manager, run.id, "RUNNING")
    pid, _ = run_process(worker)
    cancel = {"state": {"type": "CANCELLING", "name": "Cancelling"}, "force": True}
    requests.post(f"{prefect_api}/flow_runs/{run.id}/set_state", json=cancel, timeout=10)
    cancelled: FlowRunInfo = wait_for(manager, run.id, "CANCELLED", "COMPLETED", "CRASHED")
    assert cancelled.state_type == "CANCELLED"
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
