"""The typed records managers return and components render: no SDK types cross this line."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Flow runs and deployments are the orchestrator port's records, re-exported for the pages.
from core.adapters.flows import DeploymentInfo as DeploymentInfo
from core.adapters.flows import FlowRunInfo as FlowRunInfo
from core.adapters.flows import LogLine as LogLine

# The predictor port's records, likewise.
from core.adapters.predictor import ApiHealth as ApiHealth
from core.adapters.predictor import PredictionResult as PredictionResult

APP_SERVICE = "app"  # the control room itself: stopping it from its own page would end the page


@dataclass(frozen=True, slots=True)
class RunProgress:
    """What the panel of a followed flow run shows: its state and latest logs, or an error."""

    run: FlowRunInfo | None
    logs: tuple[LogLine, ...]
    error: str = ""  # why the run could not be read (the panel refreshes itself; it shows this)

    @property
    def live(self) -> bool:
        """Still running: worth refreshing."""
        return self.run is not None and not self.run.finished


@dataclass(frozen=True)
class RunDetail:
    """What the run-detail panel shows of one run."""

    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """One service as the Infrastructure page shows it."""

    name: str
    title: str
    backend: str  # local | docker
    status: str  # local: running | stopped; docker: the engine's (running, exited, …) or completed
    healthy: bool
    reason: str  # why it is not healthy, in words
    check_ms: float | None  # latency of the health check
    url: str | None
    uptime_s: float | None
    restarts: int = 0  # automatic restarts (local mode's restart policy)
    restart_note: str = ""  # "restarted 2×, last 14:03:10 UTC — exit code -9", or ""

    @property
    def controllable(self) -> bool:
        """Whether the page may stop or restart it (not the app that runs the page)."""
        return self.name != APP_SERVICE
