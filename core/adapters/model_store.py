"""The model store: MLflow's runs and registry behind the :class:`ModelStore` port.

:class:`MlflowModelStore` is the only code that builds an ``MlflowClient``; the app, the API and
the flows get one from :func:`model_store`, which also sets MLflow's HTTP retry and timeout policy
and the service credentials for the calling process (:mod:`core.adapters.mlflow_http`, the one
place both are decided).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from pydantic import SecretStr

from core.access import Actor
from core.adapters.errors import AdapterError, Missing, Unreachable
from core.adapters.mlflow_http import Caller, mlflow_error, use_credentials, use_http_policy
from core.adapters.model_refs import RunRecord, VersionRef, no_alias
from core.data.queries import TrainingData
from core.evaluate import Evaluation
from core.registry import CHALLENGER, CHAMPION, MODEL_NAME, VersionInfo
from core.tracking import (
    EXPERIMENT,
    HOLDOUT_TAG,
    LoggedRun,
    close_abandoned_runs,
    learnt_from_text,
    log_training_run,
)
from core.train import FitResult, TrainConfig


class ModelStore(Protocol):
    """What the project needs from its experiment tracker and model registry."""

    uri: str  # where it is, for messages and links

    def check_reachable(self) -> None:
        """Raise :class:`Unreachable` at once when a tracking server does not answer."""
        ...

    def runs(self, limit: int = 200) -> list[RunRecord]:
        """The project's training runs, newest first."""
        ...

    def run(self, run_id: str) -> RunRecord:
        """One run (:class:`Missing` if unknown)."""
        ...

    def artifact_json(self, run_id: str, path: str) -> dict[str, Any]:
        """A JSON artifact of a run."""
        ...

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
        """Record a training run (params, metrics, artifacts, model), tagged with who ran it."""
        ...

    def close_abandoned_runs(self, is_over: Callable[[str], bool]) -> list[str]:
        """End FAILED the runs left RUNNING by flow runs now over (``is_over``); their ids."""
        return []  # a store whose runs always end has none

    def versions(self) -> list[VersionInfo]:
        """Every registered version, newest first, with aliases and headline scores."""
        ...

    def register(self, logged: LoggedRun) -> int:
        """Register a logged model as a new version, make it the challenger; its number."""
        ...

    def set_alias(self, alias: str, version: int) -> None:
        """Point ``alias`` at ``version``."""
        ...

    def delete_alias(self, alias: str) -> None:
        """Remove ``alias``."""
        ...

    def version_ref(self, version: int) -> VersionRef:
        """Where ``version``'s model is (:class:`Missing` if unknown)."""
        ...

    def champion_ref(self) -> VersionRef:
        """Where the champion alias points (:class:`Missing` when there is none)."""
        ...

    def load_pipeline(self, ref: VersionRef) -> Any:
        """The fitted pipeline of a version (its own logged model, not an alias)."""
        ...


def model_store(
    tracking_uri: str,
    caller: Caller,
    username: str = "",
    password: SecretStr | None = None,
    run_tags: Mapping[str, str] | None = None,
) -> MlflowModelStore:
    """The store at ``tracking_uri``, with the HTTP policy of ``caller`` applied and MLflow's
    client signing in as ``username`` (``RAKUTEN_MLFLOW_USERNAME``) when one is given; every run
    it logs carries ``run_tags``."""
    use_http_policy(caller)
    use_credentials(username, password or SecretStr(""))
    return MlflowModelStore(tracking_uri, run_tags)


class MlflowModelStore(ModelStore):
    """The MLflow tracking server (or a local store: ``sqlite:///…``) at ``uri``."""

    def __init__(self, uri: str, run_tags: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self._client = MlflowClient(uri, registry_uri=uri)
        self._run_tags = dict(run_tags or {})

    def check_reachable(self) -> None:
        # The MLflow client retries a dead server for a while; one quick look first keeps
        # callers responsive and the message plain.
        if not self.uri.startswith("http"):
            return
        try:
            requests.get(f"{self.uri.rstrip('/')}/health", timeout=3).raise_for_status()
        except requests.RequestException as exc:
            raise Unreachable(f"MLflow not reachable at {self.uri} ({type(exc).__name__})") from exc

    def runs(self, limit: int = 200) -> list[RunRecord]:
        with self._speaking():
            experiment = self._client.get_experiment_by_name(EXPERIMENT)
            if experiment is None:
                return []
            found = self._client.search_runs(
                [experiment.experiment_id],
                order_by=["attributes.start_time DESC"],
                max_results=limit,
            )
            return [_record(run) for run in found]

    def run(self, run_id: str) -> RunRecord:
        with self._speaking():
            return _record(self._client.get_run(run_id))

    def artifact_json(self, run_id: str, path: str) -> dict[str, Any]:
        with self._speaking(), tempfile.TemporaryDirectory() as tmp:
            local = self._client.download_artifacts(run_id, path, tmp)
            return dict(json.loads(Path(local).read_text()))

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
        with self._speaking():
            return log_training_run(
                self.uri,
                config,
                result,
                evaluation,
                data,
                run_name=run_name,
                actor=actor,
                tags=self._run_tags,
            )

    def close_abandoned_runs(self, is_over: Callable[[str], bool]) -> list[str]:
        with self._speaking():
            return close_abandoned_runs(self.uri, is_over)

    def versions(self) -> list[VersionInfo]:
        with self._speaking():
            try:
                found = self._client.search_model_versions(f"name = '{MODEL_NAME}'")
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return []
                raise
            if not found:
                return []
            aliases: dict[int, list[str]] = {}
            # Any failure here must surface: "no aliases" would mean "no champion" to the gate.
            for alias, version in self._client.get_registered_model(MODEL_NAME).aliases.items():
                aliases.setdefault(int(version), []).append(alias)
            runs = self._runs_by_id([mv.run_id for mv in found if mv.run_id])
            infos = []
            for mv in found:
                run = runs.get(mv.run_id or "")  # a deleted run leaves its version without scores
                metrics = run.data.metrics if run else {}
                infos.append(
                    VersionInfo(
                        version=int(mv.version),
                        run_id=mv.run_id,
                        aliases=tuple(sorted(aliases.get(int(mv.version), []))),
                        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                        weighted_f1=metrics.get("weighted_f1"),
                        data_loaded_pct=metrics.get("data_loaded_pct"),
                        holdout_digest=run.data.tags.get(HOLDOUT_TAG) if run else None,
                        learnt_from=learnt_from_text(run.data.params) if run else None,
                    )
                )
            return sorted(infos, key=lambda v: v.version, reverse=True)

    def register(self, logged: LoggedRun) -> int:
        with self._speaking():
            try:
                self._client.create_registered_model(MODEL_NAME)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            # A tracking server refuses the logged model's URI without its id.
            created = self._client.create_model_version(
                MODEL_NAME, logged.model_uri, run_id=logged.run_id, model_id=logged.model_id
            )
        version = int(created.version)
        try:
            with self._speaking():
                self._client.set_registered_model_alias(MODEL_NAME, CHALLENGER, str(version))
        except AdapterError as exc:
            # A version exists only once its model is fully logged, so this one is complete: it
            # stays (deleting it would need the MLflow that just failed), and the error names it.
            raise type(exc)(
                f"{exc} — version {version} was registered but is not the challenger"
            ) from exc
        return version

    def set_alias(self, alias: str, version: int) -> None:
        with self._speaking():
            self._client.set_registered_model_alias(MODEL_NAME, alias, str(version))

    def delete_alias(self, alias: str) -> None:
        with self._speaking():
            self._client.delete_registered_model_alias(MODEL_NAME, alias)

    def version_ref(self, version: int) -> VersionRef:
        with self._speaking():
            found = self._client.get_model_version(MODEL_NAME, str(version))
            return _ref(found.version, found.run_id, found.source)

    def champion_ref(self) -> VersionRef:
        return self.alias_ref(CHAMPION)

    def alias_ref(self, alias: str) -> VersionRef:
        try:
            found = self._client.get_model_version_by_alias(MODEL_NAME, alias)
        except MlflowException as exc:
            if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
                raise Missing(no_alias(alias)) from exc
            raise mlflow_error(exc, self.uri) from exc
        return _ref(found.version, found.run_id, found.source)

    def load_pipeline(self, ref: VersionRef) -> Any:
        # A logged model resolves through the process's tracking URI, so set it: a process
        # serves one store. Never the registry URI: it is not needed, and MLflow exports both
        # to the environment of child processes.
        with self._speaking():
            mlflow.set_tracking_uri(self.uri)
            return mlflow.sklearn.load_model(ref.source)

    def _runs_by_id(self, run_ids: list[str]) -> dict[str, Run]:
        experiment = self._client.get_experiment_by_name(EXPERIMENT)
        if experiment is None or not run_ids:
            return {}
        found: dict[str, Run] = {}
        for start in range(0, len(run_ids), 100):  # one query per hundred versions
            quoted = ", ".join(f"'{r}'" for r in run_ids[start : start + 100])
            for run in self._client.search_runs(
                [experiment.experiment_id],
                filter_string=f"attributes.run_id IN ({quoted})",
                max_results=100,
            ):
                found[run.info.run_id] = run
        return found

    @contextmanager
    def _speaking(self) -> Iterator[None]:
        try:
            yield
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise Missing(f"MLflow: {exc.message}") from exc
            raise mlflow_error(exc, self.uri) from exc
        except requests.RequestException as exc:  # an artifact's transfer, or no answer at all
            raise mlflow_error(exc, self.uri) from exc


def _record(run: Run) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        started=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
    )


def _ref(version: str | int, run_id: str | None, source: str | None) -> VersionRef:
    return VersionRef(int(version), run_id or "", source or f"models:/{MODEL_NAME}/{version}")
