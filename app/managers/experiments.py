"""MlflowManager: the app's seam to MLflow (runs, run details, the registry and promotions)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.managers.errors import ManagerError, NotFound, Rejected, ServiceUnavailable
from app.records import RunDetail
from core import promotion, registry
from core.db.engine import ensure_schema
from core.promotion import Promotion
from core.registry import GateVerdict, VersionInfo
from core.tracking import CONFUSION_JSON, EXPERIMENT, PER_CLASS_JSON, confusion_from_dict

T = TypeVar("T")
RUN_COLUMNS = (
    "run_id", "name", "started", "status", "weighted_f1", "macro_f1", "accuracy",
    "fit_seconds", "data_loaded_pct", "data_rows", "classifier", "c", "max_features",
    "char_ngrams", "version", "aliases",
)  # fmt: skip


class MlflowManager:
    """Reads runs and the registry, and changes the champion through the promotion gate."""

    def __init__(self, tracking_uri: str, engine: Engine, margin: float) -> None:
        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
        self._engine = engine
        self._margin = margin

    @property
    def ui_url(self) -> str | None:
        """The MLflow UI, when the tracking store is a server."""
        return self.tracking_uri if self.tracking_uri.startswith("http") else None

    def runs(self, limit: int = 200) -> pd.DataFrame:
        """Training runs, newest first, with headline metrics, data share and registry state."""

        def fetch() -> pd.DataFrame:
            experiment = self._client.get_experiment_by_name(EXPERIMENT)
            if experiment is None:
                return pd.DataFrame(columns=RUN_COLUMNS)
            found = self._client.search_runs(
                [experiment.experiment_id], order_by=["attributes.start_time DESC"],
                max_results=limit,
            )  # fmt: skip
            by_run = {v.run_id: v for v in registry.list_versions(self._client)}
            rows = []
            for run in found:
                m, p = run.data.metrics, run.data.params
                version = by_run.get(run.info.run_id)
                rows.append(
                    {
                        "run_id": run.info.run_id,
                        "name": run.info.run_name,
                        "started": datetime.fromtimestamp(run.info.start_time / 1000, UTC),
                        "status": run.info.status,
                        "weighted_f1": m.get("weighted_f1"),
                        "macro_f1": m.get("macro_f1"),
                        "accuracy": m.get("accuracy"),
                        "fit_seconds": m.get("fit_seconds"),
                        "data_loaded_pct": m.get("data_loaded_pct"),
                        "data_rows": int(p["data_rows"]) if "data_rows" in p else None,
                        "classifier": p.get("classifier"),
                        "c": p.get("c"),
                        "max_features": p.get("max_features"),
                        "char_ngrams": p.get("char_ngrams"),
                        "version": version.version if version else None,
                        "aliases": ", ".join(version.aliases) if version else "",
                    }
                )
            return pd.DataFrame(rows, columns=RUN_COLUMNS)

        return self._guarded(fetch)

    def run_detail(self, run_id: str) -> RunDetail:
        """Params, metrics, per-class scores and confusion matrix of one run."""

        def fetch() -> RunDetail:
            run = self._client.get_run(run_id)
            confusion, per_class = (
                self._artifact_json(run_id, path) for path in (CONFUSION_JSON, PER_CLASS_JSON)
            )
            return RunDetail(
                run_id, run.info.run_name or run_id, dict(run.data.params),
                dict(run.data.metrics), pd.DataFrame(per_class["classes"]),
                confusion_from_dict(confusion),
            )  # fmt: skip

        return self._guarded(fetch)

    def _artifact_json(self, run_id: str, path: str) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            local = self._client.download_artifacts(run_id, path, tmp)
            return json.loads(Path(local).read_text())

    def versions(self) -> list[VersionInfo]:
        """Registered versions, newest first, with aliases and scores."""
        return self._guarded(lambda: registry.list_versions(self._client))

    def gate(self, version: int) -> GateVerdict:
        """Would ``version`` pass the promotion gate against the current champion?"""

        def check() -> GateVerdict:
            versions = registry.list_versions(self._client)
            candidate = next((v for v in versions if v.version == version), None)
            if candidate is None:
                raise NotFound(f"Version {version} is not registered.")
            return registry.gate(candidate, registry.champion(versions), self._margin)

        return self._guarded(check)

    def promote(
        self, version: int, force_reason: str | None = None, triggered_by: str = "app"
    ) -> Promotion:
        """Make ``version`` champion through the gate, or forced with a written reason."""
        return self._guarded(
            lambda: promotion.promote(
                self._engine, self._client, version, margin=self._margin,
                triggered_by=triggered_by, force_reason=force_reason,
            )
        )  # fmt: skip

    def rollback(self, triggered_by: str = "app") -> Promotion:
        """Give the champion alias back to the previous champion."""
        return self._guarded(
            lambda: promotion.rollback(self._engine, self._client, triggered_by=triggered_by)
        )

    def promotion_log(self) -> pd.DataFrame:
        """Every promotion and rollback, newest first."""

        def read() -> pd.DataFrame:
            with self._engine.connect() as conn:
                return promotion.promotion_log_frame(conn)

        return self._guarded(read)

    def _guarded(self, action: Callable[[], T]) -> T:
        with self._translated():
            self._check_reachable()
            ensure_schema(self._engine)  # the promotion log lives in our database
            return action()

    def _check_reachable(self) -> None:
        # The MLflow client retries a dead server for minutes; one quick look first keeps the
        # page responsive and the message plain.
        if not self.tracking_uri.startswith("http"):
            return
        try:
            requests.get(f"{self.tracking_uri.rstrip('/')}/health", timeout=3).raise_for_status()
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"MLflow not reachable at {self.tracking_uri} ({type(exc).__name__}). Start it "
                "with `make run` (or the Infrastructure page), or set RAKUTEN_MLFLOW_TRACKING_URI."
            ) from exc

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except ManagerError:
            raise
        except promotion.PromotionRefused as exc:
            raise Rejected(str(exc)) from exc
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"MLflow: {exc.message}") from exc
            raise ManagerError(f"MLflow error at {self.tracking_uri}: {exc.message}") from exc
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"MLflow not reachable at {self.tracking_uri}") from exc
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"Database error in the promotion log: {exc}") from exc
