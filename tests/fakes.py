"""In-memory fakes of the MLflow, Prefect and prediction managers, recording what pages asked.

They keep the real managers' public methods (tests/app/test_fakes.py checks it) and reuse the
real gate from core.registry, so a page test exercises the same decisions as production.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import requests
from sqlalchemy import Engine

from app.managers.errors import NotFound, Rejected, ServiceUnavailable
from app.managers.experiments import RUN_COLUMNS
from app.records import ApiHealth, DeploymentInfo, FlowRunInfo, LogLine, PredictionResult, RunDetail
from core import promotion, registry
from core.data.categories import CATEGORY_BY_CODE
from core.db.engine import ensure_schema
from core.inference_log import InferenceRecord, write_records
from core.promotion import Promotion
from core.registry import CHAMPION, GateVerdict, VersionInfo
from core.service_metrics import Scrape

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PROJECT_LABEL = "com.docker.compose.project"


class FakeMlflowManager:
    """Runs and versions held in lists; promotions change aliases and append to a log."""

    def __init__(self, margin: float = 0.0) -> None:
        self.ui_url: str | None = "http://mlflow.test"
        self.down = False
        self.margin = margin
        self._versions: list[VersionInfo] = []
        self._runs: list[dict[str, Any]] = []
        self.promoted: list[int] = []
        self.log: list[dict[str, Any]] = []

    def add_run(self, weighted_f1: float, *, register: bool = True) -> str:
        run_id = f"run{len(self._runs) + 1}"
        version = len(self._versions) + 1 if register else None
        self._runs.insert(0, {
            "run_id": run_id, "name": f"logreg · 40 % data #{len(self._runs) + 1}",
            "started": NOW, "status": "FINISHED", "weighted_f1": weighted_f1,
            "macro_f1": weighted_f1 - 0.02, "accuracy": weighted_f1, "fit_seconds": 3.0,
            "data_loaded_pct": 40.0, "data_rows": 1000, "classifier": "logreg", "c": "5.0",
            "max_features": "100000", "char_ngrams": "False", "version": version, "aliases": "",
        })  # fmt: skip
        if version:
            self._versions.insert(
                0, VersionInfo(version, run_id, ("challenger",), NOW, weighted_f1, 40.0)
            )
        return run_id

    def runs(self, limit: int = 200) -> pd.DataFrame:
        self._check()
        return pd.DataFrame(self._runs[:limit], columns=RUN_COLUMNS)

    def run_detail(self, run_id: str) -> RunDetail:
        self._check()
        codes = [10, 40, 2583]
        confusion = pd.DataFrame(np.array([[8, 1, 1], [2, 7, 1], [0, 0, 10]]), codes, codes)
        per_class = pd.DataFrame(
            {"code": codes, "label": ["10 · Used books", "40 · Imported video games",
             "2583 · Pools & accessories"], "precision": [0.8, 0.88, 0.83],
             "recall": [0.8, 0.7, 1.0], "f1": [0.8, 0.78, 0.91], "support": [10, 10, 10]}
        )  # fmt: skip
        run = next(r for r in self._runs if r["run_id"] == run_id)
        return RunDetail(run_id, run["name"], {"c": "5.0"}, {"weighted_f1": run["weighted_f1"]},
                         per_class, confusion)  # fmt: skip

    def versions(self) -> list[VersionInfo]:
        self._check()
        return list(self._versions)

    def gate(self, version: int) -> GateVerdict:
        self._check()
        candidate = next((v for v in self._versions if v.version == version), None)
        if candidate is None:
            raise NotFound(f"Version {version} is not registered.")
        return registry.gate(candidate, registry.champion(self._versions), self.margin)

    def promote(
        self, version: int, force_reason: str | None = None, triggered_by: str = "app"
    ) -> Promotion:
        verdict = self.gate(version)
        if not verdict.passed and force_reason is None:
            raise Rejected(f"Promotion gate refused: {verdict.reason}.")
        current = registry.champion(self._versions)
        self._set_champion(version)
        self.promoted.append(version)
        action = "force" if force_reason else "promote"
        self.log.insert(0, {"id": len(self.log) + 1, "at": NOW, "action": action,
                            "from_version": current.version if current else None,
                            "to_version": version, "triggered_by": triggered_by,
                            "reason": force_reason or verdict.reason,
                            "candidate_f1": verdict.candidate_f1,
                            "champion_f1": verdict.champion_f1})  # fmt: skip
        return Promotion(action, current.version if current else None, version, verdict.reason)

    def rollback(self, triggered_by: str = "app") -> Promotion:
        history = promotion.champion_history(pd.DataFrame(self.log or None, columns=LOG_COLUMNS))
        if len(history) < 2:
            raise Rejected("There is no earlier champion to roll back to.")
        self._set_champion(history[-2])
        self.log.insert(0, {"id": len(self.log) + 1, "at": NOW, "action": "rollback",
                            "from_version": history[-1], "to_version": history[-2],
                            "triggered_by": triggered_by, "reason": "rollback",
                            "candidate_f1": None, "champion_f1": None})  # fmt: skip
        return Promotion("rollback", history[-1], history[-2], "rollback")

    def promotion_log(self) -> pd.DataFrame:
        self._check()
        return pd.DataFrame(self.log, columns=LOG_COLUMNS)

    def _set_champion(self, version: int) -> None:
        self._versions = [
            VersionInfo(
                v.version, v.run_id,
                tuple(a for a in v.aliases if a != CHAMPION)
                + ((CHAMPION,) if v.version == version else ()),
                v.created_at, v.weighted_f1, v.data_loaded_pct,
            )
            for v in self._versions
        ]  # fmt: skip

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable("MLflow not reachable at http://mlflow.test (ConnectionError)")


LOG_COLUMNS = [
    "id", "at", "action", "from_version", "to_version", "triggered_by", "reason",
    "candidate_f1", "champion_f1",
]  # fmt: skip


class FakePrefectManager:
    """Flow runs created on trigger; their final state is whatever the test sets."""

    def __init__(self) -> None:
        self.ui_url = "http://prefect.test"
        self.down = False
        self.triggered: list[tuple[str, dict[str, Any]]] = []
        self.runs: dict[str, FlowRunInfo] = {}
        self.outcome = ("COMPLETED", "Completed", "")
        self.paused: set[str] = set()
        self._ids = itertools.count(1)

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> FlowRunInfo:
        self._check()
        self.triggered.append((deployment, parameters))
        state_type, state_name, message = self.outcome
        run = FlowRunInfo(
            f"fr-{next(self._ids)}", "brave-otter", deployment.split("/")[0], state_type,
            state_name, message, NOW, NOW, NOW,
        )  # fmt: skip
        self.runs[run.id] = run
        return run

    def flow_run(self, run_id: str) -> FlowRunInfo:
        self._check()
        return self.runs[run_id]

    def logs(self, run_id: str, limit: int = 200) -> list[LogLine]:
        self._check()
        return [LogLine(NOW, 20, "Beginning flow run"), LogLine(NOW, 20, "Fitted logreg")]

    def recent_runs(self, limit: int = 10) -> list[FlowRunInfo]:
        self._check()
        return list(self.runs.values())[::-1][:limit]

    def deployments(self, recent: int = 5) -> list[DeploymentInfo]:
        self._check()
        crons = {"train/train": (), "load-data/load-data": ("0 6 * * 1",),
                 "monitor/monitor": ("0 9 * * *",)}  # fmt: skip
        return [
            DeploymentInfo(name, f"dep-{name}", crons[name], name in self.paused,
                           NOW if crons[name] else None,
                           tuple(r for r in self.runs.values() if name.startswith(r.flow)))
            for name in crons
        ]  # fmt: skip

    def set_paused(self, deployment: str, paused: bool) -> None:
        self._check()
        (self.paused.add if paused else self.paused.discard)(deployment)

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable("Prefect not reachable at http://prefect.test/api")


class FakePredictionManager:
    """A keyword "model" in place of the API; like the API, it writes to the inference log."""

    KEYWORDS = {"piscine": 2583, "livre": 2705, "console": 60}

    def __init__(self, engine: Engine | None = None) -> None:
        self.api_url = "http://api.test"
        self.docs_url = "http://api.test/docs"
        self.down = False
        self.version: int | None = 1
        self.last_error: str | None = None
        self.reloads = 0
        self.scrapes = 0
        self.log_delay = 0.0  # seconds before a prediction reaches the log, as with the API
        self.requests: list[str] = []
        self._engine = engine
        self._ids = itertools.count(1)

    def health(self) -> ApiHealth:
        self._check()
        return ApiHealth(
            self.api_url, self.version is not None, self.version, NOW, self.last_error, 10.0
        )

    def predict(self, designation: str, description: str = "", top_k: int = 5) -> PredictionResult:
        self._check()
        ((best, *_),) = self._answer([designation], [description])
        top = pd.DataFrame(
            [(best, CATEGORY_BY_CODE[best].label_en, 0.9)]
            + [(c, CATEGORY_BY_CODE[c].label_en, 0.1 / (top_k - 1)) for c in (10, 40, 50, 1140)],
            columns=["code", "category", "probability"],
        ).head(top_k)
        request_id, code = self.requests[-1], best
        return PredictionResult(request_id, code, CATEGORY_BY_CODE[code].label_en, 0.9, top,
                                self.version or 0, 1.5, 4.0)  # fmt: skip

    def predict_batch(self, products: pd.DataFrame, progress: Any = None) -> pd.DataFrame:
        self._check()
        descriptions = products.get("description", pd.Series([""] * len(products)))
        codes = self._answer(list(products["designation"]), list(descriptions))
        if progress:
            progress(len(products), len(products))
        found = pd.DataFrame({
            "request_id": self.requests[-len(codes):], "code": [c[0] for c in codes],
            "category": [CATEGORY_BY_CODE[c[0]].label_en for c in codes],
            "probability": 0.9, "model_version": self.version,
        })  # fmt: skip
        return pd.concat([products.reset_index(drop=True), found], axis=1)

    def scrape(self) -> Scrape:
        self._check()
        self.scrapes += 1
        n = float(self.scrapes)
        return Scrape(
            NOW + timedelta(seconds=5 * n), {("/predict", "200"): 10 * n, ("/predict", "503"): n},
            {0.001: 5 * n, 0.005: 10 * n, float("inf"): 11 * n},
            {"Pools & accessories": 8 * n, "Used books": 3 * n},
        )  # fmt: skip

    def reload(self) -> ApiHealth:
        self._check()
        self.reloads += 1
        return self.health()

    def _answer(self, designations: list[str], descriptions: list[str]) -> list[tuple[int]]:
        if self.version is None:
            raise ServiceUnavailable("The API at http://api.test serves no model: no champion.")
        answers, records = [], []
        for designation, description in zip(designations, descriptions, strict=True):
            code = next((c for k, c in self.KEYWORDS.items() if k in designation.lower()), 1280)
            request_id = f"req-{next(self._ids)}"
            self.requests.append(request_id)
            answers.append((code,))
            records.append(InferenceRecord(request_id, datetime.now(UTC), designation,
                                           description or "", code, 0.9, self.version, 1.5,
                                           "predict"))  # fmt: skip
        if self._engine is not None:
            ensure_schema(self._engine)
            engine = self._engine
            if self.log_delay:
                timer = threading.Timer(self.log_delay, write_records, (engine, records))
                timer.start()
            else:
                write_records(engine, records)
        return answers

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable(
                "Predictor API not reachable at http://api.test (ConnectionError). Start it on "
                "the Infrastructure page, with `make run` (all services) or `make api`, or set "
                "RAKUTEN_API_URL."
            )


class FakePrometheusManager:
    """Two points of each series, as Prometheus would answer."""

    def __init__(self) -> None:
        self.url = "http://prometheus.test"

    def health_history(self, minutes: int = 15, step_seconds: int = 15) -> pd.DataFrame:
        at = [NOW, NOW + timedelta(seconds=step_seconds)]
        return pd.DataFrame(
            {"at": at, "request_rate": [3.0, 4.0], "p95_ms": [4.2, 4.8], "error_rate": [0.0, 0.25]}
        )

    def predictions_by_class(self, minutes: int = 15) -> dict[str, float]:
        return {"Pools & accessories": 40.0}


class FakeContainer:
    """A compose container as the docker SDK shows it: ``attrs`` in the engine's own shape.

    As with the real SDK, ``attrs`` (and so ``status``) is a snapshot: ``start()`` and ``stop()``
    change the engine's state, and the object shows it after ``reload()`` or a new ``list()``.
    After a start, the healthcheck says "starting" until the next look.
    """

    def __init__(self, engine: FakeDockerClient, service: str, ports: tuple[int, ...] = ()) -> None:
        self._engine = engine
        self.name = f"{engine.project}-{service}-1"
        self.labels = {PROJECT_LABEL: engine.project, "com.docker.compose.service": service,
                       "com.docker.compose.oneoff": "False"}  # fmt: skip
        self._ports = {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}] for p in ports}
        self.log_lines = [f"{service} line {i}" for i in range(1, 301)]
        self.calls: list[str] = []
        self._state: dict[str, Any] = {}
        self.attrs: dict[str, Any] = {}
        self.set_running(healthy=True)
        self.reload()

    @property
    def status(self) -> str:
        return str(self.attrs["State"]["Status"])

    @property
    def ports(self) -> dict[str, Any]:
        return dict(self.attrs["NetworkSettings"]["Ports"])

    def set_running(self, *, healthy: bool = True, output: str = "", health: str = "") -> None:
        self._state = {
            "Status": "running", "Running": True, "ExitCode": 0, "Error": "",
            "StartedAt": "2026-11-27T08:00:00.123456789Z",
            "Health": {"Status": health or ("healthy" if healthy else "unhealthy"), "Log": [{
                "Start": "2026-11-27T08:59:00.100000000Z", "End": "2026-11-27T08:59:00.112500000Z",
                "ExitCode": 0 if healthy else 1, "Output": output,
            }]},
        }  # fmt: skip

    def set_exited(self, code: int = 137) -> None:
        self._state = {"Status": "exited", "Running": False, "ExitCode": code,
                       "Error": "", "StartedAt": "2026-11-27T08:00:00Z"}  # fmt: skip

    def start(self) -> None:
        self._engine.check()
        self.calls.append("start")
        self.set_running(health="starting")

    def stop(self, timeout: int = 10) -> None:
        self._engine.check()
        self.calls.append("stop")
        self.set_exited(0)

    def restart(self, timeout: int = 10) -> None:
        self.stop(timeout)
        self.start()

    def reload(self) -> None:
        self._engine.check()
        self.attrs = {
            "State": dict(self._state),
            "NetworkSettings": {"Ports": self._ports if self._state["Running"] else {}},
        }
        if self._state.get("Health", {}).get("Status") == "starting":
            self.set_running()  # the first probe passes: healthy at the next look

    def logs(self, tail: int = 100) -> bytes:
        self._engine.check()
        return ("\n".join(self.log_lines[-tail:]) + "\n").encode()


class _FakeContainers:
    def __init__(self, engine: FakeDockerClient) -> None:
        self._engine = engine

    def list(
        self, all: bool = False, filters: dict[str, Any] | None = None, ignore_removed: bool = False
    ) -> list[FakeContainer]:
        self._engine.check()
        wanted = (filters or {}).get("label", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted
        for container in self._engine.all:  # a new list() sees the engine's state now
            container.reload()
        return [
            c for c in self._engine.all
            if (all or c.status == "running")
            and all_labels(c.labels, wanted)
        ]  # fmt: skip


def all_labels(labels: dict[str, str], wanted: list[str]) -> bool:
    """Docker's label filter: every ``key=value`` (or bare ``key``) must match."""
    pairs = [w.partition("=") for w in wanted]
    return all(key in labels and (not sep or labels[key] == value) for key, sep, value in pairs)


class FakeDockerClient:
    """The slice of ``docker.DockerClient`` the Docker backend uses, over in-memory containers.

    ``down = True`` makes every call fail as an engine that stopped answering does.
    """

    SERVICES: dict[str, tuple[int, ...]] = {
        "postgres": (), "minio": (9000, 9001), "minio-init": (), "mlflow": (5000,),
        "prefect": (4200,), "worker": (), "api": (8000,), "prometheus": (9090,),
        "grafana": (3000,), "app": (8501,),
    }  # fmt: skip

    def __init__(self, project: str = "rakuten-control-room") -> None:
        self.project = project
        self.down = False
        self.all = [FakeContainer(self, name, ports) for name, ports in self.SERVICES.items()]
        self.container("minio-init").set_exited(0)  # the one-shot bucket creation is done
        self.containers = _FakeContainers(self)

    def container(self, service: str) -> FakeContainer:
        return next(c for c in self.all if c.labels["com.docker.compose.service"] == service)

    def check(self) -> None:
        if self.down:  # what the SDK raises when the engine stops answering mid-session
            raise requests.ConnectionError(
                "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
            )
