"""The flows worker killed in the middle of a train run (SIGKILL, as the OOM killer or `kill -9`
would: its process only, not its group), on real processes: a real Prefect server, the real worker.

What a person sees: the run's processes go with the worker, the run shows Crashed (not Running)
within a minute once the worker is back, and the next run works."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.states import Cancelling, Completed, Pending, Running

from app.managers.flows import PrefectManager
from core.access import Actor
from core.adapters.flows import PrefectRest
from core.flows.names import TRAIN_DEPLOYMENT
from core.flows.orphans import ORPHAN_MESSAGE, end_orphaned_runs
from core.flows.serve import SERVED, served
from core.processes import alive, group_members
from tests.prefect_stack import (
    SLOW,
    SMALL,
    prefect_server,
    run_process,
    start_worker,
    stop_worker,
    wait_for,
    wait_serving,
    worker_env,
)

CRASHED_WITHIN_S = 60  # from the kill; the supervisor restarts a dead worker after 1 s
GONE_WITHIN_S = 5


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    with prefect_server() as url:  # the module's own: its workers assume they are the only one
        yield url


@flow(name="crash-probe")
def _probe() -> None:
    """A flow whose runs the tests put in any state; never run."""


@task
def _step() -> None:
    """The task a subflow run hangs from in its parent; never run."""


@pytest.mark.slow
def test_a_killed_worker_takes_its_run_along_and_the_run_shows_crashed(
    prefect_api: str, tmp_path: Path
) -> None:
    manager = PrefectManager(PrefectRest(prefect_api))
    env = worker_env(prefect_api, tmp_path)
    first_log = tmp_path / "worker.log"
    first = start_worker(env, first_log)
    second = None
    try:
        run = manager.trigger(TRAIN_DEPLOYMENT, {"config": SLOW.model_dump()}, Actor.os_user())
        wait_for(manager, run.id, "RUNNING")
        run_pid, fork_server = run_process(first.pid)
        fitting = time.monotonic() + 120  # the run's log lines go to the worker's as they come
        while "Snapshot: " not in first_log.read_text() and time.monotonic() < fitting:
            time.sleep(0.05)

        first.send_signal(signal.SIGKILL)  # the leader only: its group is left to itself
        first.wait()
        killed = time.monotonic()
        assert "Snapshot: " in first_log.read_text() and "Fitted " not in first_log.read_text()
        while group_members(first.pid) and time.monotonic() < killed + GONE_WITHIN_S:
            time.sleep(0.1)
        assert not alive(run_pid), "the flow run outlived the worker"
        assert not alive(fork_server), "the fork server outlived the worker"
        assert group_members(first.pid) == [], "the worker's processes outlived it"
        # Nobody told Prefect: until a worker is back, the run still shows as running.
        assert manager.flow_run(run.id).state_type == "RUNNING"

        # Started again, as the supervisor (or the stack's `restart: unless-stopped`) does.
        log = tmp_path / "restarted.log"
        second = start_worker(env, log, wait=False)
        left = killed + CRASHED_WITHIN_S - time.monotonic()
        try:
            crashed = wait_for(manager, run.id, "CRASHED", "COMPLETED", "FAILED", timeout=left)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the restarted worker's log:\n{log.read_text()}") from None
        assert crashed.state_type == "CRASHED"
        assert crashed.message == ORPHAN_MESSAGE
        wait_serving(second, log)

        again = manager.trigger(TRAIN_DEPLOYMENT, {"config": SMALL.model_dump()}, Actor.os_user())
        done = wait_for(manager, again.id, "COMPLETED", "FAILED", "CRASHED")
        assert done.state_type == "COMPLETED", f"{done.message}\n{log.read_text()[-4000:]}"
        assert f"({run.id}) was left Running" in log.read_text()  # the worker's log says so
    finally:
        for process in (first, second):
            if process is not None:
                stop_worker(process)


def test_the_start_up_sweep_ends_only_runs_a_stopped_worker_left_behind(prefect_api: str) -> None:
    with get_client(sync_client=True) as client:
        probe = client.create_flow(_probe)
        ours = client.create_deployment(flow_id=probe, name="ours")
        other = client.create_deployment(flow_id=probe, name="other")

        def run_of(deployment: UUID, *states: State) -> UUID:
            created = client.create_flow_run_from_deployment(deployment)
            for state in states:
                client.set_flow_run_state(created.id, state, force=True)
            return created.id

        def subflow_of(parent: UUID) -> UUID:
            step = client.create_task_run(_step, flow_run_id=parent, dynamic_key=str(parent))
            return client.create_flow_run(_probe, parent_task_run_id=step.id, state=Running()).id

        running, pending = run_of(ours, Running()), run_of(ours, Pending())
        cancelling = run_of(ours, Running(), Cancelling())  # a run being cancelled has started
        inner = subflow_of(running)
        done = run_of(ours, Completed())
        elsewhere = run_of(other, Running())
        elsewheres_inner = subflow_of(elsewhere)
        time.sleep(0.01)
        worker_started = datetime.now(UTC)
        time.sleep(0.01)
        since = run_of(ours, Running())  # went running after the worker started: not left behind

        ended = end_orphaned_runs(client, ["crash-probe/ours", "train/never"], worker_started)

        state = {run: client.read_flow_run(run).state for run in ended}
        assert set(ended[:3]) == {running, pending, cancelling}
        assert ended[3:] == [inner]  # a subflow after its parent
        assert {run: s.type for run, s in state.items()} == {
            running: StateType.CRASHED,
            pending: StateType.CRASHED,
            inner: StateType.CRASHED,
            cancelling: StateType.CANCELLED,
        }
        assert state[running].message == state[inner].message == ORPHAN_MESSAGE
        for untouched, was in [
            (done, StateType.COMPLETED),
            (elsewhere, StateType.RUNNING),
            (elsewheres_inner, StateType.RUNNING),
            (since, StateType.RUNNING),
        ]:
            assert client.read_flow_run(untouched).state.type == was
        assert end_orphaned_runs(client, ["crash-probe/ours"], worker_started) == []  # all ended


def test_the_sweep_covers_every_deployment_the_worker_serves() -> None:
    assert {f"{flow.name}/{options['name']}" for flow, options in served()} == set(SERVED)
