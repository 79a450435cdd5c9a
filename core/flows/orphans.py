"""Runs a stopped worker left behind: marked Crashed when the worker starts again.

A worker that is killed (``kill -9``, the kernel's OOM killer, a container stopped hard) tells
Prefect nothing: its runs die with it (:func:`core.flows.warm.bind_to_worker`), but Prefect keeps
showing them as Running, for good. The restarted worker (the supervisor's restart, or the stack's
``restart: unless-stopped``) ends them before it serves again (:func:`end_orphaned_runs`).

Why not Prefect's own flow-run heartbeats and a "zombie" automation: heartbeats are at least 30 s
apart, the automation needs a window above that (Prefect suggests 90 s) plus its own setup on
every server, so a person would wait one and a half minutes or more; the sweep runs seconds after
the worker is back. (A worker that never comes back leaves its runs Running either way: the
Infrastructure page shows it stopped.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import ObjectNotFound
from prefect.logging import get_logger
from prefect.states import Cancelled, Crashed

log = get_logger("flows-worker")  # the worker's log, as its other lines

ORPHAN_MESSAGE = "The flows worker stopped while this run was in progress; start it again."
CANCELLED_MESSAGE = "The flows worker stopped while this run was being cancelled; it stopped too."
IN_PROGRESS = FlowRunFilterState(
    type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])
)
PAGE = 200  # the Prefect server's largest page by default


def end_orphaned_runs(
    client: SyncPrefectClient, deployments: Iterable[str], worker_started: datetime
) -> list[UUID]:
    """Mark Crashed (or Cancelled) the runs of these deployments a stopped worker left in progress.

    Assumption (this project's): one worker serves these deployments on a Prefect server, so when
    it starts, before it takes any run, no live process executes a run of theirs. A run Prefect
    holds as Pending or Running then is an orphan, as long as it entered that state before this
    worker started (one that entered it since is not this worker's either: left alone). Its
    subflows still in progress (the monitor flow trains in one) go with it. A run left
    Cancelling is marked Cancelled: its process is gone, which is what the person asked for.
    Runs of other deployments are never touched.

    Args:
        client: A Prefect client.
        deployments: The deployments this worker serves, by name (``flow/deployment``); one that
            is not registered yet has no runs.
        worker_started: When this worker's process started (timezone-aware).

    Returns:
        The ids of the runs ended, parents before their subflows.
    """
    ids = FlowRunFilterDeploymentId(any_=_deployment_ids(client, deployments))
    orphans = [
        run
        for run in _read_all(client, FlowRunFilter(deployment_id=ids, state=IN_PROGRESS))
        if run.state is not None and run.state.timestamp < worker_started
    ]
    ended: list[UUID] = []
    while orphans:
        for run in orphans:
            _end(client, run)
            ended.append(run.id)
        parents = FlowRunFilterParentFlowRunId(any_=[run.id for run in orphans])
        subflows = _read_all(client, FlowRunFilter(parent_flow_run_id=parents, state=IN_PROGRESS))
        orphans = [run for run in subflows if run.id not in ended]
    return ended


def _deployment_ids(client: SyncPrefectClient, names: Iterable[str]) -> list[UUID]:
    ids = []
    for name in names:
        try:
            ids.append(client.read_deployment_by_name(name).id)
        except ObjectNotFound:
            continue
    return ids


def _read_all(client: SyncPrefectClient, runs_filter: FlowRunFilter) -> list[FlowRun]:
    runs: list[FlowRun] = []
    while page := client.read_flow_runs(flow_run_filter=runs_filter, limit=PAGE, offset=len(runs)):
        runs.extend(page)
        if len(page) < PAGE:
            break
    return runs


def _end(client: SyncPrefectClient, run: FlowRun) -> None:
    left = run.state.name if run.state else "in progress"
    end: State[Any]
    if run.state and run.state.type == StateType.CANCELLING:
        end = Cancelled(message=CANCELLED_MESSAGE)
    else:
        end = Crashed(message=ORPHAN_MESSAGE)
    # force: Prefect's transition rules are written for a run's own process reporting on itself.
    client.set_flow_run_state(run.id, end, force=True)
    log.warning(
        "Run %s (%s) was left %s by a worker that stopped: now %s", run.name, run.id, left, end.name
    )
