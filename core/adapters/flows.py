"""The orchestrator: trigger deployments, read flow runs and their logs, pause schedules.

:class:`FlowRunner` is the port; :class:`PrefectRest` speaks Prefect's REST API directly with short
timeouts: a page must stay responsive when the server is slow or down, and callers need none of the
Prefect SDK's global settings. A server that does not answer is remembered for a few seconds
(:class:`core.adapters.breaker.CircuitBreaker`), so a page that asks it several things waits once,
not once per call. A server started with ``PREFECT_SERVER_API_AUTH_STRING`` is sent the same
string, as Prefect's own client sends ``PREFECT_API_AUTH_STRING``: ``Basic base64(string)``.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests
from pydantic import SecretStr

from core.adapters.breaker import CircuitBreaker
from core.adapters.errors import Missing, Refused, Unreachable

FINISHED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
FAILED = {"FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True, slots=True)
class FlowRunInfo:
    """One flow run."""

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
    """A deployment: its schedules, whether it is paused, its next and latest runs."""

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


class FlowRunner(Protocol):
    """What the project needs of its orchestrator."""

    @property
    def ui_url(self) -> str:
        """Where a person opens the orchestrator's own UI."""
        ...

    def ping(self) -> None:
        """Raise :class:`Unreachable` unless the orchestrator answers now, asked quickly."""
        ...

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> FlowRunInfo:
        """Create a flow run of ``flow/deployment`` with ``parameters``; a worker picks it up."""
        ...

    def flow_run(self, run_id: str) -> FlowRunInfo:
        """The current state of one flow run."""
        ...

    def logs(self, run_id: str, limit: int = 200) -> list[LogLine]:
        """The flow run's log records, oldest first."""
        ...

    def recent_runs(self, limit: int = 10) -> list[FlowRunInfo]:
        """The latest flow runs, newest first, leaving out runs scheduled for later."""
        ...

    def deployments(self, recent: int = 5) -> list[DeploymentInfo]:
        """The deployments with their schedules, next run and ``recent`` latest runs."""
        ...

    def set_paused(self, deployment: str, paused: bool) -> None:
        """Pause (no scheduled runs) or resume ``flow/deployment``."""
        ...


class PrefectRest(FlowRunner):
    """A Prefect server's REST API at ``api_url`` (``…/api``): a call waits ``connect_timeout``
    to connect, then ``timeout`` for the answer; a probe (:meth:`ping`) ``probe_timeout`` for each;
    after a call that waited in vain, calls fail at once for ``cooldown`` s, then one probes."""

    def __init__(
        self,
        api_url: str,
        timeout: float = 5.0,
        auth_string: SecretStr | None = None,
        *,
        connect_timeout: float = 2.0,
        probe_timeout: float = 2.0,
        cooldown: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeouts = (connect_timeout, timeout)
        self._probe_timeouts = (probe_timeout, probe_timeout)
        self._breaker = CircuitBreaker(cooldown)
        self._http = requests.Session()
        secret = auth_string.get_secret_value() if auth_string else ""
        self._signs_in = bool(secret)
        if secret:
            token = base64.b64encode(secret.encode()).decode()
            self._http.headers["Authorization"] = f"Basic {token}"

    @property
    def ui_url(self) -> str:
        """The Prefect UI."""
        return self.api_url.removesuffix("/api")

    def ping(self) -> None:
        """Raise :class:`Unreachable` unless Prefect's health check answers within the probe
        timeout (at once while it is remembered as not answering)."""
        self._breaker.before_call()
        self._send("GET", "/health", probe=True)

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> FlowRunInfo:
        """Create a flow run of ``flow/deployment``; the worker picks it up."""
        found = self._deployment(deployment)
        run = self._call(
            "POST", f"/deployments/{found['id']}/create_flow_run", {"parameters": parameters}
        )
        return _flow_run(run, deployment.split("/")[0])

    def flow_run(self, run_id: str) -> FlowRunInfo:
        """The current state of one flow run."""
        run = self._call("GET", f"/flow_runs/{run_id}", what=f"flow run {run_id}")
        return _flow_run(run, self._flow_names({run["flow_id"]}).get(run["flow_id"], ""))

    def logs(self, run_id: str, limit: int = 200) -> list[LogLine]:
        """The flow run's log records, oldest first."""
        body = {
            "logs": {"flow_run_id": {"any_": [run_id]}},
            "sort": "TIMESTAMP_ASC",
            "limit": limit,
        }
        return [
            LogLine(datetime.fromisoformat(r["timestamp"]), int(r["level"]), r["message"])
            for r in self._call("POST", "/logs/filter", body)
        ]

    def recent_runs(self, limit: int = 10) -> list[FlowRunInfo]:
        """The latest flow runs, newest first, leaving out runs scheduled for later."""
        body = {
            "sort": "START_TIME_DESC",
            "limit": limit,
            # A cron deployment always has next week's run scheduled: it is not "the last run".
            "flow_runs": {"state": {"type": {"not_any_": ["SCHEDULED"]}}},
        }
        runs = self._call("POST", "/flow_runs/filter", body)
        flows = self._flow_names({r["flow_id"] for r in runs})
        return [_flow_run(r, flows.get(r["flow_id"], "")) for r in runs]

    def deployments(self, recent: int = 5) -> list[DeploymentInfo]:
        """The deployments with their schedules, next run and latest runs."""
        found = self._call("POST", "/deployments/filter", {"sort": "NAME_ASC", "limit": 50})
        flows = self._flow_names({d["flow_id"] for d in found})
        return [
            _deployment(d, flows.get(d["flow_id"], ""), self._deployment_runs(d["id"]), recent)
            for d in found
        ]

    def set_paused(self, deployment: str, paused: bool) -> None:
        """Pause (no scheduled runs) or resume ``flow/deployment``."""
        found = self._deployment(deployment)
        action = "pause_deployment" if paused else "resume_deployment"
        self._call("POST", f"/deployments/{found['id']}/{action}")

    def _deployment(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "GET", f"/deployments/name/{name}", what=f"deployment {name}"
        )
        return found

    def _deployment_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        body = {
            "deployments": {"id": {"any_": [deployment_id]}},
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": 30,
        }
        runs: list[dict[str, Any]] = self._call("POST", "/flow_runs/filter", body)
        return runs

    def _flow_names(self, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        found = self._call("POST", "/flows/filter", {"flows": {"id": {"any_": sorted(ids)}}})
        return {f["id"]: f["name"] for f in found}

    def _call(self, method: str, path: str, body: Any = None, what: str = "") -> Any:
        if self._breaker.before_call():  # let through after a cooldown: a quick probe first
            self._send("GET", "/health", probe=True)
        for pause in (0.2, 0.5, None):
            response = self._send(method, path, body)
            # 503: Prefect's "retry me" (its SQLite database was busy; nothing was written), which
            # its own clients retry too.
            if response.status_code != 503 or pause is None:
                break
            time.sleep(pause)
        if response.status_code == 404:
            raise Missing(f"Prefect at {self.api_url} has no {what or path}.")
        if response.status_code in {401, 403}:
            sent = "refused the control room's" if self._signs_in else "asks for an"
            raise Refused(
                f"Prefect at {self.api_url} {sent} auth string: set RAKUTEN_PREFECT_AUTH_STRING "
                "to the server's PREFECT_SERVER_API_AUTH_STRING, then restart."
            )
        if response.status_code in {400, 409, 422}:
            raise Refused(f"Prefect refused the request: {_detail(response)}")
        if response.status_code >= 400:
            raise Unreachable(
                f"Prefect at {self.api_url} answered {response.status_code}: {_detail(response)}"
            )
        return response.json() if response.content else None

    def _send(
        self, method: str, path: str, body: Any = None, probe: bool = False
    ) -> requests.Response:
        """One request; no answer (refused, reset, timed out) is :class:`Unreachable`."""
        timeout = self._probe_timeouts if probe else self._timeouts
        start = time.monotonic()
        try:
            response = self._http.request(method, self.api_url + path, json=body, timeout=timeout)
        except requests.RequestException as exc:
            message = f"Prefect not reachable at {self.api_url} ({type(exc).__name__})."
            waited = time.monotonic() - start
            self._breaker.failed(message, waited, isinstance(exc, requests.Timeout))
            raise Unreachable(message) from exc
        self._breaker.answered()
        return response


def _detail(response: requests.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return str(detail)[:500]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _deployment(
    payload: dict[str, Any], flow: str, runs: list[dict[str, Any]], recent: int
) -> DeploymentInfo:
    done, starts = [], []
    for run in runs:
        info = _flow_run(run, flow)
        if info.state_type != "SCHEDULED":
            done.append(info)
        elif start := _time(run.get("expected_start_time")):
            starts.append(start)
    return DeploymentInfo(
        name=f"{flow}/{payload['name']}",
        id=payload["id"],
        schedules=tuple(
            str((s.get("schedule") or {}).get("cron") or s.get("schedule"))
            for s in payload.get("schedules") or []
        ),
        paused=bool(payload.get("paused")),
        next_run=min(starts, default=None),
        recent=tuple(done[:recent]),
    )


def _flow_run(payload: dict[str, Any], flow: str = "") -> FlowRunInfo:
    state = payload.get("state") or {}
    return FlowRunInfo(
        id=payload["id"],
        name=payload.get("name", ""),
        flow=flow,
        state_type=state.get("type", "UNKNOWN"),
        state_name=state.get("name", "Unknown"),
        message=state.get("message") or "",
        created=_time(payload.get("created")),
        started=_time(payload.get("start_time")),
        ended=_time(payload.get("end_time")),
    )
