"""The flows worker: serves this project's deployments to the Prefect server.

    python -m core.flows.serve       (started by the local supervisor, or the stack's worker)

Deployments: ``train/train`` (on demand), ``load-data/load-data`` (weekly, Monday 06:00 UTC),
``monitor/monitor`` (daily, 09:00 UTC).

It is Prefect's own ``serve``, with two differences that a click on Train feels: the worker asks
for new runs every :data:`POLL_SECONDS` (Prefect's default is 10 s), and it holds the flows in
memory (``Runner.add_flow``) so each run is a fork of a warm process (:mod:`core.flows.warm`)
instead of a ``python -m prefect.engine`` that imports everything again.

A worker that was killed leaves nothing running (:mod:`core.flows.warm`), and when it starts again
it first marks the runs it left behind Crashed (:mod:`core.flows.orphans`): that needs Prefect's
client only, so the flows and everything they import (MLflow, scikit-learn, pandas: tens of
seconds on a busy machine) are imported after it, in :func:`served` and :func:`main`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect.client.orchestration import get_client
from prefect.exceptions import TerminationSignal
from prefect.logging import get_logger
from prefect.logging.configuration import ensure_logging_setup

from core.flows.names import (
    DAILY_MONITOR_CRON,
    LOAD_DATA_DEPLOYMENT,
    MONITOR_DEPLOYMENT,
    TRAIN_DEPLOYMENT,
    WEEKLY_LOAD_CRON,
)
from core.flows.orphans import end_orphaned_runs

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

log = get_logger("flows-worker")  # Prefect's console handler: the line lands in the worker's log
# One HTTP call per poll for all deployments (the cancellations come over a websocket): twice a
# second costs the Prefect server little, and a click waits a quarter of a second on average.
POLL_SECONDS = 0.5
READY = "Deployments being served"  # the line the benchmark (and a person) waits for
SERVED = (TRAIN_DEPLOYMENT, LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT)  # what :func:`served` names


def served() -> list[tuple[Flow[..., Any], dict[str, Any]]]:
    """Each flow the worker serves, with its deployment's name, schedule and description."""
    # Here, not at the top: see the module's docstring.
    from core.flows.data import load_data_flow
    from core.flows.monitor import monitor_flow
    from core.flows.train import train_flow

    return [
        (
            train_flow,
            {
                "name": "train",
                "description": "Train, evaluate, log, register, promote if the gate passes",
            },
        ),
        (
            load_data_flow,
            {
                "name": "load-data",
                "cron": WEEKLY_LOAD_CRON,
                "description": "Add the next stratified batch of products (weekly)",
            },
        ),
        (
            monitor_flow,
            {
                "name": "monitor",
                "cron": DAILY_MONITOR_CRON,
                "description": "Check drift of the last day's traffic; retrain above the threshold",
            },
        ),
    ]


def deployments() -> list[RunnerDeployment]:
    """Every deployment the worker serves, as Prefect records it (``.apply()`` registers one).

    ``_sync``: Prefect picks sync or async by whether an event loop runs in the calling thread;
    these are always wanted built, not as coroutines.
    """
    return [
        flow.to_deployment(**options, _sync=True)  # type: ignore[call-arg, misc]  # async_dispatch
        for flow, options in served()
    ]


def end_orphans(started: datetime) -> None:
    """Mark Crashed the runs a stopped worker left in progress (:mod:`core.flows.orphans`).

    A failure is logged, not raised: serving new runs matters more than the label of old ones.
    """
    try:
        with get_client(sync_client=True) as client:
            ended = end_orphaned_runs(client, SERVED, started)
    except Exception:  # noqa: BLE001  # any Prefect or network error; the worker serves on
        log.exception("Could not mark the runs a stopped worker left behind as Crashed")
        return
    if ended:
        log.warning("Marked %d run(s) a stopped worker left in progress as ended", len(ended))


def main() -> None:
    """Serve until interrupted."""
    started = datetime.now(UTC)
    ensure_logging_setup()  # Prefect's log format from the first line (importing flows sets it up)
    # First, before this worker takes any run: whatever is still in progress is not its own.
    end_orphans(started)
    # Here, not at the top: see the module's docstring.
    from prefect.runner import Runner

    from core.flows.warm import warm_processes, warm_up

    with warm_processes() as context:  # the fork server imports while the worker does
        # limit=None: as `serve` does, no cap on concurrent runs (Prefect's default is 5).
        runner = Runner(query_seconds=POLL_SECONDS, limit=None)
        for flow, options in served():
            runner.add_flow(flow, **options, _sync=True)  # type: ignore[call-arg]
        waited = warm_up(context)  # the fork server has been importing meanwhile
        log.info("Flow runs fork from a warm process (ready %.1f s after the deployments)", waited)
        log.info("%s: %s", READY, ", ".join(f"{f.name}/{o['name']}" for f, o in served()))
        try:
            asyncio.run(runner.start())
        except (KeyboardInterrupt, TerminationSignal) as exc:
            log.info("Received %s, shutting down", type(exc).__name__)


if __name__ == "__main__":
    main()
