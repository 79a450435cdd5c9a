"""The typed records managers return and components render: no SDK types cross this line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

APP_SERVICE = "app"  # the control room itself: stopping it from its own page would end the page
FINISHED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
FAILED = {"FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True, slots=True)
class FlowRunInfo:
    """One flow run as the pages show it."""

    id: str
    name: str
    flow: str
    state_type: str
    state_name: str
    message: str
    created: datetime | None
    started: datetime | None
    ended: datetime | None

    @property
    def finished(self) -> bool:
        """In a final state."""
        return self.state_type in FINISHED

    @property
    def failed(self) -> bool:
        """Finished without success."""
        return self.state_type in FAILED


@dataclass(frozen=True)
class DeploymentInfo:
    """A Prefect deployment: its schedules, whether it is paused, its next and latest runs."""

    name: str  # flow/deployment
    id: str
    schedules: tuple[str, ...]  # cron expressions
    paused: bool
    next_run: datetime | None
    recent: tuple[FlowRunInfo, ...]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log record of a flow run."""

    at: datetime
    level: int
    message: str


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
class ApiHealth:
    """What the predictor API says about itself."""

    url: str
    model_loaded: bool
    version: int | None
    loaded_at: datetime | None
    last_error: str | None
    poll_seconds: float


@dataclass(frozen=True)
class PredictionResult:
    """One product's prediction: the best class, the top-k and who answered how fast."""

    request_id: str
    code: int
    category: str
    probability: float
    top: pd.DataFrame  # code, category, probability; most probable first
    model_version: int
    latency_ms: float  # inside the API
    roundtrip_ms: float  # as the app saw it


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

    @property
    def controllable(self) -> bool:
        """Whether the page may stop or restart it (not the app that runs the page)."""
        return self.name != APP_SERVICE
