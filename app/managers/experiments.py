"""ExperimentsManager: the app's view of training runs in the model store (MLflow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from app.managers.errors import Forbidden, ManagerError, NotFound, Rejected, ServiceUnavailable
from app.records import RunDetail
from core.access import PermissionDenied
from core.adapters.errors import AdapterError, Missing, Unreachable
from core.adapters.model_store import ModelStore, RunRecord
from core.promotion import PromotionRefused
from core.registry import VersionInfo
from core.tracking import CONFUSION_JSON, PER_CLASS_JSON, confusion_from_dict

PARAMS = ("classifier", "c", "max_features", "char_ngrams")
METRICS = ("weighted_f1", "macro_f1", "accuracy", "fit_seconds", "data_loaded_pct")
RUN_COLUMNS = (
    "run_id",
    "name",
    "started",
    "status",
    *METRICS,
    "data_rows",
    "feedback_rows",
    *PARAMS,
    "version",
    "aliases",
)


class ExperimentsManager:
    """Reads training runs and their details from the model store."""

    def __init__(self, store: ModelStore) -> None:
        self._store = store

    @property
    def ui_url(self) -> str | None:
        """The MLflow UI, when the tracking store is a server."""
        return self._store.uri if self._store.uri.startswith("http") else None

    def runs(self, limit: int = 200) -> pd.DataFrame:
        """Training runs, newest first, with headline metrics, data share and registry state."""
        with store_errors(self._store):
            self._store.check_reachable()
            found = self._store.runs(limit)
            by_run = {v.run_id: v for v in self._store.versions()} if found else {}
        return pd.DataFrame([_row(r, by_run.get(r.run_id)) for r in found], columns=RUN_COLUMNS)

    def run_detail(self, run_id: str) -> RunDetail:
        """Params, metrics, per-class scores and confusion matrix of one run."""
        with store_errors(self._store):
            self._store.check_reachable()
            run = self._store.run(run_id)
            confusion = self._store.artifact_json(run_id, CONFUSION_JSON)
            per_class = self._store.artifact_json(run_id, PER_CLASS_JSON)
        return RunDetail(
            run_id,
            run.name,
            run.params,
            run.metrics,
            pd.DataFrame(per_class["classes"]),
            confusion_from_dict(confusion),
        )


@contextmanager
def store_errors(store: ModelStore) -> Iterator[None]:
    """Turn the model store's (and the promotion log's) errors into messages a person can act on."""
    try:
        yield
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from exc
    except Unreachable as exc:
        raise ServiceUnavailable(
            f"{exc}. Start it with `make run` (or the Infrastructure page), or set "
            "RAKUTEN_MLFLOW_TRACKING_URI."
        ) from exc
    except Missing as exc:
        raise NotFound(str(exc)) from exc
    except AdapterError as exc:
        raise ManagerError(str(exc)) from exc
    except PromotionRefused as exc:
        raise Rejected(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(f"Database error in the promotion log: {exc}") from exc


def _row(run: RunRecord, version: VersionInfo | None) -> dict[str, object]:
    data_rows = run.params.get("data_rows")
    feedback_rows = run.params.get("feedback_rows")  # None: logged before feedback was data
    return {
        "run_id": run.run_id,
        "name": run.name,
        "started": run.started,
        "status": run.status,
        **{name: run.metrics.get(name) for name in METRICS},
        "data_rows": int(data_rows) if data_rows is not None else None,
        "feedback_rows": int(feedback_rows) if feedback_rows is not None else None,
        **{name: run.params.get(name) for name in PARAMS},
        "version": version.version if version else None,
        "aliases": ", ".join(version.aliases) if version else "",
    }
