"""The flows worker: serves this project's deployments to the Prefect server.

    python -m core.flows.serve       (started by the local supervisor, or the stack's worker)

Deployments: ``train/train`` (on demand), ``load-data/load-data`` (weekly, Monday 06:00 UTC),
``monitor/monitor`` (daily, 09:00 UTC).
"""

from __future__ import annotations

from prefect import serve

from core.flows.data import load_data_flow
from core.flows.monitor import monitor_flow
from core.flows.names import DAILY_MONITOR_CRON, WEEKLY_LOAD_CRON
from core.flows.train import train_flow


def deployments() -> list:
    """Every deployment the worker serves.

    ``_sync``: Prefect picks sync or async by whether an event loop runs in the calling thread;
    these are always wanted built, not as coroutines.
    """
    return [
        train_flow.to_deployment(
            name="train",
            description="Train, evaluate, log, register, promote if the gate passes",
            _sync=True,  # type: ignore[call-arg]  # async_dispatch's own keyword
        ),
        load_data_flow.to_deployment(
            name="load-data",
            cron=WEEKLY_LOAD_CRON,
            description="Add the next stratified batch of products (weekly)",
            _sync=True,  # type: ignore[call-arg]  # async_dispatch's own keyword
        ),
        monitor_flow.to_deployment(
            name="monitor",
            cron=DAILY_MONITOR_CRON,
            description="Check drift of the last day's traffic; retrain above the threshold",
            _sync=True,  # type: ignore[call-arg]  # async_dispatch's own keyword
        ),
    ]


def main() -> None:
    """Serve until interrupted."""
    serve(*deployments(), print_starting_message=True)


if __name__ == "__main__":
    main()
