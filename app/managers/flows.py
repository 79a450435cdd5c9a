"""PrefectManager: the app's seam to the Prefect server (trigger deployments, follow flow runs).

It speaks Prefect's REST API directly with short timeouts: the page must stay responsive when the
server is slow or down, and the app needs none of the Prefect SDK's global settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from app.managers.errors import ManagerError, NotFound, Rejected, ServiceUnavailable
from app.records import DeploymentInfo, FlowRunInfo, LogLine


class PrefectManager:
    """Triggers this project's deployments and reads flow runs and their logs."""

    def __init__(self, api_url: str, timeout: float = 5.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._http = requests.Session()

    @property
    def ui_url(self) -> str:
        """The Prefect UI."""
        return self.api_url.removesuffix("/api")

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> FlowRunInfo:
        """Create a flow run of ``flow/deployment``; the worker picks it up."""
        found = self._call(
            "GET", f"/deployments/name/{deployment}", what=f"deployment {deployment}"
        )
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
        records = self._call(
            "POST", "/logs/filter",
            {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": limit},
        )  # fmt: skip
        return [
            LogLine(datetime.fromisoformat(r["timestamp"]), int(r["level"]), r["message"])
            for r in records
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
        """This project's deployments with their schedules, next run and latest runs."""
        found = self._call("POST", "/deployments/filter", {"sort": "NAME_ASC", "limit": 50})
        flows = self._flow_names({d["flow_id"] for d in found})
        return [
            _deployment(d, flows.get(d["flow_id"], ""), self._deployment_runs(d["id"]), recent)
            for d in found
        ]

    def set_paused(self, deployment: str, paused: bool) -> None:
        """Pause (no scheduled runs) or resume ``flow/deployment``."""
        found = self._call(
            "GET", f"/deployments/name/{deployment}", what=f"deployment {deployment}"
        )
        action = "pause_deployment" if paused else "resume_deployment"
        self._call("POST", f"/deployments/{found['id']}/{action}")

    def _deployment_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return self._call("POST", "/flow_runs/filter", {
            "deployments": {"id": {"any_": [deployment_id]}},
            "sort": "EXPECTED_START_TIME_DESC", "limit": 30,
        })  # fmt: skip

    def _flow_names(self, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        found = self._call("POST", "/flows/filter", {"flows": {"id": {"any_": sorted(ids)}}})
        return {f["id"]: f["name"] for f in found}

    def _call(self, method: str, path: str, body: Any = None, what: str = "") -> Any:
        url = f"{self.api_url}{path}"
        try:
            response = self._http.request(method, url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Prefect not reachable at {self.api_url} ({type(exc).__name__}). Start it with "
                "`make run` (or the Infrastructure page), or set RAKUTEN_PREFECT_API_URL."
            ) from exc
        if response.status_code == 404:
            hint = " Is the flows worker running? (`make run` starts it.)" if what else ""
            raise NotFound(f"Prefect has no {what or path}.{hint}")
        if response.status_code in {400, 409, 422}:
            raise Rejected(f"Prefect refused the request: {_detail(response)}")
        if response.status_code >= 400:
            raise ManagerError(f"Prefect answered {response.status_code}: {_detail(response)}")
        return response.json() if response.content else None


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
