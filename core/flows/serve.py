"""The flows worker: serves this project's deployments to the Prefect server.

    python -m core.flows.serve       (started by the local supervisor, or the stack's worker)

Deployments: ``train/train`` (on demand), ``load-data/load-data`` (weekly, Monday 06:00 UTC).
"""

from __future__ import annotations

from prefect import serve

from core.flows.data import load_data_flow
from core.flows.names import WEEKLY_LOAD_CRON
from core.flows.train import train_flow


def deployments() -> list:
    """Every deployment the worker serves."""
    return [
        train_flow.to_deployment(
            name="train", description="Train, evaluate, log, register, promote if the gate passes"
        ),
        load_data_flow.to_deployment(
            name="load-data",
            cron=WEEKLY_LOAD_CRON,
            description="Add the next stratified batch of products (weekly)",
        ),  # fmt: skip
    ]


def main() -> None:
    """Serve until interrupted."""
    serve(*deployments(), print_starting_message=True)


if __name__ == "__main__":
    main()
