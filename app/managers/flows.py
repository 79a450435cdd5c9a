"""PrefectManager: the app's flows (trigger, follow, schedules), the orchestrator's errors in words.

It works over the :class:`core.adapters.flows.FlowRunner` port (Prefect's REST API in production,
an in-memory fake in tests) and turns what the adapter raises into messages a person can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.managers.errors import (
    ManagerError,
    NotFound,
    Rejected,
    ServiceUnavailable,
    permission_errors,
)
from app.records import DeploymentInfo, FlowRunInfo, RunProgress
from core.access import Action, Actor, AuditLog, LoggingAuditLog, audited, checks
from core.adapters.errors import AdapterError, Missing, Refused, Unreachable
from core.adapters.flows import FlowRunner
from core.flows.names import LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT, TRAIN_DEPLOYMENT

logger = logging.getLogger(__name__)
START_HINT = (
    "Start it with `make run` (or the Infrastructure page), or set RAKUTEN_PREFECT_API_URL."
)
WORKER_HINT = "Is the flows worker running? (`make run` starts it.)"
# What starting each of this project's deployments amounts to (the role it needs).
_DEPLOYMENT_ACTIONS = {
    TRAIN_DEPLOYMENT: Action.TRAIN,
    MONITOR_DEPLOYMENT: Action.MONITOR,
}


def trigger_action(deployment: str, parameters: dict[str, Any]) -> Action:
    """What starting ``deployment`` with ``parameters`` amounts to (another deployment: admin)."""
    if deployment == LOAD_DATA_DEPLOYMENT:
        initialize = parameters.get("action") == "initialize"
        return Action.INITIALIZE if initialize else Action.LOAD_NEXT_BATCH
    return _DEPLOYMENT_ACTIONS.get(deployment, Action.RUN_FLOW)


class PrefectManager:
    """Triggers this project's deployments and reads flow runs, their logs and schedules."""

    def __init__(self, runner: FlowRunner, audit: AuditLog | None = None) -> None:
        self._runner = runner
        self._audit = audit or LoggingAuditLog()

    @property
    def ui_url(self) -> str:
        """The Prefect UI."""
        return self._runner.ui_url

    def unavailable(self) -> str | None:
        """Why flows cannot start now (no answer to a quick health check), or None: ask it first."""
        try:  # a hung server is then remembered: the page's other Prefect calls fail at once
            with _translated():
                self._runner.ping()
        except ManagerError as exc:
            return str(exc)
        return None

    @checks(
        Action.TRAIN, Action.MONITOR, Action.INITIALIZE, Action.LOAD_NEXT_BATCH, Action.RUN_FLOW
    )
    def trigger(self, deployment: str, parameters: dict[str, Any], actor: Actor) -> FlowRunInfo:
        """Start a run of ``flow/deployment``; the flow learns who asked from its ``actor``."""
        action = trigger_action(deployment, parameters)
        with (
            permission_errors(),
            _translated(),
            audited(self._audit, actor, action, target=deployment, params=parameters),
        ):
            return self._runner.trigger(deployment, {**parameters, "actor": actor.as_params()})

    def flow_run(self, run_id: str) -> FlowRunInfo:
        """The current state of one flow run."""
        with _translated():
            return self._runner.flow_run(run_id)

    def progress(self, run_id: str, logs: bool = True) -> RunProgress:
        """A followed run's state and (``logs``) latest logs; an outage is the panel's error."""
        try:
            with _translated():
                run = self._runner.flow_run(run_id)
                return RunProgress(run, tuple(self._runner.logs(run_id)) if logs else ())
        except ManagerError as exc:  # the panel refreshes itself: it shows the outage in place
            return RunProgress(None, (), str(exc))

    def recent_runs(self, limit: int = 10) -> list[FlowRunInfo]:
        """The latest flow runs, newest first, leaving out runs scheduled for later."""
        with _translated():
            return self._runner.recent_runs(limit)

    def deployments(self, recent: int = 5) -> list[DeploymentInfo]:
        """This project's deployments with their schedules, next run and latest runs."""
        with _translated():
            return self._runner.deployments(recent)

    @checks(Action.PAUSE_SCHEDULE)
    def set_paused(self, deployment: str, paused: bool, actor: Actor) -> None:
        """Pause (no scheduled runs) or resume ``flow/deployment``."""
        params = {"paused": paused}
        with (
            permission_errors(),
            _translated(),
            audited(self._audit, actor, Action.PAUSE_SCHEDULE, target=deployment, params=params),
        ):
            self._runner.set_paused(deployment, paused)


@contextmanager
def _translated() -> Iterator[None]:
    """The adapter's errors as the app's, with what to do next."""
    try:
        yield
    except Unreachable as exc:
        raise ServiceUnavailable(f"{exc} {START_HINT}") from exc
    except Missing as exc:
        raise NotFound(f"{exc} {WORKER_HINT}") from exc
    except Refused as exc:
        raise Rejected(str(exc)) from exc
    except AdapterError as exc:
        raise ManagerError(str(exc)) from exc
