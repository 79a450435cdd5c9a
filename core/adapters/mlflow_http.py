"""MLflow's HTTP retry and timeout policy: decided here, for every kind of process that talks to it.

MLflow's client defaults (7 retries with back-off, 120 s per request) stall a caller for minutes on
a dead server. A page must answer fast, the API must not hold a reload for long, a flow worker may
wait longer. :func:`core.adapters.model_store.model_store` applies the caller's policy.
"""

from __future__ import annotations

import os
from typing import Literal

Caller = Literal["app", "api", "flow"]
HTTP_POLICY: dict[Caller, tuple[int, int]] = {  # (retries, timeout in seconds)
    "app": (2, 15),
    "api": (1, 20),
    "flow": (2, 120),
}


def use_http_policy(caller: Caller) -> None:
    """Set MLflow's HTTP retries and timeout for this process, unless the environment does.

    The environment wins so an operator can still tune one service without a code change.

    Args:
        caller: Which kind of process this is (see :data:`HTTP_POLICY`).
    """
    retries, timeout = HTTP_POLICY[caller]
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout))
