"""In-memory fakes of the model store (MLflow) and the predictor API, inheriting their ports.

The real managers and use cases run over them (the gate, the promotion log in a real database), so
a page test exercises the same decisions as production; the fakes record what was asked
(``store.promoted``, ``predictor.reloads``) and can be taken down (``down = True``).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.access import Actor
from core.adapters.errors import Missing, Refused, Unreachable
from core.adapters.model_store import ModelStore, RunRecord, VersionRef
from core.adapters.predictor import (
    ApiHealth,
    BatchPrediction,
    NoModel,
    PredictionResult,
    Predictor,
)
from core.data.categories import CATEGORY_BY_CODE
from core.data.queries import TrainingData
from core.db.engine import ensure_schema
from core.evaluate import Evaluation
from core.inference_log import InferenceRecord, write_records
from core.registry import CHALLENGER, CHAMPION, VersionInfo
from core.service_metrics import Scrape
from core.serving.explain import ClassEvidence, Evidence, Explanation
from core.tracking import (
    CONFUSION_JSON,
    MODEL_NAME,
    PER_CLASS_JSON,
    LoggedRun,
    learnt_from_text,
    snapshot_params,
    snapshot_tags,
)
from core.train import FitResult, TrainConfig

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CODES = [10, 40, 2583]
ARTIFACTS: dict[str, dict[str, Any]] = {
    CONFUSION_JSON: {"labels": CODES, "matrix": [[8, 1, 1], [2, 7, 1], [0, 0, 10]]},
    PER_CLASS_JSON: {
        "classes": [
            {"code": code, "label": label, "precision": p, "recall": r, "f1": f1, "support": 10}
            for code, label, p, r, f1 in [
                (10, "10 · Used books", 0.8, 0.8, 0.8),
                (40, "40 · Imported video games", 0.88, 0.7, 0.78),
                (2583, "2583 · Pools & accessories", 0.83, 1.0, 0.91),
            ]
        ]
    },
}


class FakeModelStore(ModelStore):
    """Runs, versions and aliases in memory; ``promoted`` lists every version made champion."""

    def __init__(self) -> None:
        self.uri = "http://mlflow.test"
        self.down = False
        self.promoted: list[int] = []
        self.aliases: dict[str, int] = {}
        self.pipelines: dict[int, Any] = {}
        self._runs: list[RunRecord] = []  # newest first
        self._versions: dict[int, str] = {}  # version → run id

    def add_run(
        self, weighted_f1: float, *, register: bool = True, feedback_rows: int | None = None
    ) -> str:
        """A finished training run scoring ``weighted_f1``, registered as a version by default;
        without ``feedback_rows``, logged before feedback was training data (no such param)."""
        n = len(self._runs) + 1
        feedback = {} if feedback_rows is None else {"feedback_rows": str(feedback_rows)}
        run = RunRecord(
            run_id=f"run{n}",
            name=f"logreg · 40 % data #{n}",
            started=NOW,
            status="FINISHED",
            params={
                "classifier": "logreg",
                "c": "5.0",
                "max_features": "100000",
                "char_ngrams": "False",
                "data_rows": "1000",
                **feedback,
            },
            metrics={
                "weighted_f1": weighted_f1,
                "macro_f1": weighted_f1 - 0.02,
                "accuracy": weighted_f1,
                "fit_seconds": 3.0,
                "data_loaded_pct": 40.0,
            },
            tags={},
        )
        self._runs.insert(0, run)
        if register:
            self.register(LoggedRun(run.run_id, f"models:/m-{n}", f"m-{n}"))
        return run.run_id

    def check_reachable(self) -> None:
        self._check()

    def runs(self, limit: int = 200) -> list[RunRecord]:
        self._check()
        return self._runs[:limit]

    def run(self, run_id: str) -> RunRecord:
        self._check()
        found = next((r for r in self._runs if r.run_id == run_id), None)
        if found is None:
            raise Missing(f"MLflow: run {run_id} not found")
        return found

    def artifact_json(self, run_id: str, path: str) -> dict[str, Any]:
        self.run(run_id)
        return ARTIFACTS[path]

    def log_run(
        self,
        config: TrainConfig,
        result: FitResult,
        evaluation: Evaluation,
        data: TrainingData,
        *,
        run_name: str,
        actor: Actor,
    ) -> LoggedRun:
        self._check()
        n = len(self._runs) + 1
        # The real run's data params and tags (tracking's own functions), as strings like MLflow's.
        tags = {"triggered_by": actor.label, "rakuten.actor": actor.subject, **snapshot_tags(data)}
        params = {k: str(v) for k, v in {**config.params(), **snapshot_params(data)}.items()}
        metrics = {**evaluation.metrics(), "fit_seconds": result.fit_seconds}
        self._runs.insert(0, RunRecord(f"run{n}", run_name, NOW, "FINISHED", params, metrics, tags))
        self.pipelines[n] = result.pipeline
        return LoggedRun(f"run{n}", f"models:/m-{n}", f"m-{n}")

    def versions(self) -> list[VersionInfo]:
        self._check()
        runs = {r.run_id: r for r in self._runs}
        return [
            VersionInfo(
                version,
                run_id,
                tuple(sorted(a for a, v in self.aliases.items() if v == version)),
                NOW,
                runs[run_id].metrics.get("weighted_f1"),
                40.0,
                learnt_from=learnt_from_text(runs[run_id].params),
            )
            for version, run_id in sorted(self._versions.items(), reverse=True)
        ]

    def register(self, logged: LoggedRun) -> int:
        self._check()
        version = len(self._versions) + 1
        self._versions[version] = logged.run_id
        self.aliases[CHALLENGER] = version
        return version

    def set_alias(self, alias: str, version: int) -> None:
        self._check()
        if version not in self._versions:
            raise Missing(f"MLflow: version {version} of {MODEL_NAME} not found")
        self.aliases[alias] = version
        if alias == CHAMPION:
            self.promoted.append(version)

    def delete_alias(self, alias: str) -> None:
        self._check()
        self.aliases.pop(alias, None)

    def version_ref(self, version: int) -> VersionRef:
        self._check()
        if version not in self._versions:
            raise Missing(f"MLflow: version {version} of {MODEL_NAME} not found")
        return VersionRef(version, self._versions[version], f"models:/{MODEL_NAME}/{version}")

    def champion_ref(self) -> VersionRef:
        return self.alias_ref(CHAMPION)

    def alias_ref(self, alias: str) -> VersionRef:
        self._check()
        if alias not in self.aliases:
            raise Missing(f"no {alias} yet: {MODEL_NAME} has no @{alias}")
        return self.version_ref(self.aliases[alias])

    def load_pipeline(self, ref: VersionRef) -> Any:
        self._check()
        if ref.version not in self.pipelines:
            raise Missing(f"MLflow: no model logged for version {ref.version}")
        return self.pipelines[ref.version]

    def _check(self) -> None:
        if self.down:
            raise Unreachable("MLflow not reachable at http://mlflow.test (ConnectionError)")


class FakePredictor(Predictor):
    """A keyword "model" in place of the API; like the API, it writes to the inference log."""

    KEYWORDS = {"piscine": 2583, "livre": 2705, "console": 60}

    def __init__(self, engine: Engine | None = None, *, token: bool = True) -> None:
        self.url = "http://api.test"
        self.engine = engine  # where predictions are logged, as the API logs them
        self.token = token  # False: reloads are refused, as without RAKUTEN_API_TOKEN
        self.down = False
        self.version: int | None = 1
        self.last_error: str | None = None
        self.reloads = 0
        self.reload_waits: list[bool] = []  # what each reload asked: wait for the load or not
        self.scrapes = 0
        self.log_delay = 0.0  # seconds before a prediction reaches the log, as with the API
        self.requests: list[str] = []
        self._ids = itertools.count(1)

    def health(self) -> ApiHealth:
        self._check()
        return ApiHealth(
            self.url, self.version is not None, self.version, NOW, self.last_error, 10.0
        )

    def predict(
        self, designation: str, description: str = "", top_k: int = 5, *, explain: bool = False
    ) -> PredictionResult:
        self._check()
        (best,) = self._answer([(designation, description)])
        others = [(c, CATEGORY_BY_CODE[c].label_en, 0.1 / (top_k - 1)) for c in (10, 40, 50, 1140)]
        top = pd.DataFrame(
            [(best, CATEGORY_BY_CODE[best].label_en, 0.9), *others],
            columns=["code", "category", "probability"],
        ).head(top_k)
        return PredictionResult(
            self.requests[-1],
            best,
            CATEGORY_BY_CODE[best].label_en,
            0.9,
            top,
            self.version or 0,
            1.5,
            4.0,
            _explanation(best, designation) if explain else None,
        )

    def predict_batch(self, products: list[tuple[str, str]]) -> list[BatchPrediction]:
        self._check()
        codes = self._answer(products)
        return [
            BatchPrediction(
                request_id, code, CATEGORY_BY_CODE[code].label_en, 0.9, self.version or 0
            )
            for request_id, code in zip(self.requests[-len(codes) :], codes, strict=True)
        ]

    def scrape(self) -> Scrape:
        self._check()
        self.scrapes += 1
        n = float(self.scrapes)
        return Scrape(
            NOW + timedelta(seconds=5 * n),
            {("/predict", "200"): 10 * n, ("/predict", "503"): n},
            {0.001: 5 * n, 0.005: 10 * n, float("inf"): 11 * n},
            {"Pools & accessories": 8 * n, "Used books": 3 * n},
        )

    def reload(self, *, wait: bool = True) -> ApiHealth:
        self.reload_waits.append(wait)
        self._check()
        if not self.token:
            raise Refused(
                "No RAKUTEN_API_TOKEN is set: the API will pick up the new champion at "
                "its next check."
            )
        self.reloads += 1
        return self.health()

    def _answer(self, products: list[tuple[str, str]]) -> list[int]:
        if self.version is None:
            raise NoModel(f"The API at {self.url} serves no model (no model loaded: no champion)")
        codes, records = [], []
        for designation, description in products:
            code = next((c for k, c in self.KEYWORDS.items() if k in designation.lower()), 1280)
            request_id = f"req-{next(self._ids)}"
            self.requests.append(request_id)
            codes.append(code)
            records.append(
                InferenceRecord(
                    request_id,
                    datetime.now(UTC),
                    designation,
                    description or "",
                    code,
                    0.9,
                    self.version,
                    1.5,
                    "predict",
                )
            )
        if self.engine is not None:
            ensure_schema(self.engine)
            if self.log_delay:
                threading.Timer(self.log_delay, write_records, (self.engine, records)).start()
            else:
                write_records(self.engine, records)
        return codes

    def _check(self) -> None:
        if self.down:
            raise Unreachable(f"Predictor API not reachable at {self.url} (ConnectionError)")


def _explanation(code: int, designation: str) -> Explanation:
    """What the fake says about its answer: every word of the title counts 0.5 for it."""
    words = {word.lower(): 0.5 for word in designation.split()}
    terms = tuple(Evidence(word, "word", 0.5, 1.0) for word in words)
    predicted = ClassEvidence(code, 0.5 * len(words) - 1.0, -1.0, terms, 0.0, words)
    runner_up = ClassEvidence(10, -1.5, -1.0, (Evidence("lot", "word", 0.5, -1.0),), 0.0, {})
    return Explanation(
        predicted, runner_up, "multinomial scores: the probabilities are their softmax"
    )
