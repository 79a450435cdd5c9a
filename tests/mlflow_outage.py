"""MLflow cut from inside a train run (tests/integration/test_train_mlflow_outage.py).

:class:`Lab` reads the MLflow server directly (not through the proxy the flow goes through) and the
control room's promotion log; :class:`Outage` wraps one call so that the proxy cuts MLflow when a
run reaches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from prefect.states import State
from sqlalchemy import Engine

from core.adapters.mlflow_http import TIMEOUT_VARIABLE
from core.promotion import promotion_log_frame
from core.registry import CHAMPION, MODEL_NAME
from core.tracking import EXPERIMENT, FLOW_RUN_TAG
from tests.tcp_proxy import Mode, TcpProxy


@dataclass(frozen=True)
class Registry:
    """What an outage must not change, unless a version's registration had gone through."""

    champion: int
    versions: frozenset[int]
    promotions: int  # rows of the promotion log


@dataclass
class Lab:
    """The running services and what reads them around the proxy."""

    proxy: TcpProxy
    direct: MlflowClient  # the server itself, not through the proxy
    direct_uri: str
    engine: Engine
    prefect_url: str

    def champion(self) -> int:
        return int(self.direct.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)

    def registry(self) -> Registry:
        with self.engine.connect() as conn:
            promotions = len(promotion_log_frame(conn))
        return Registry(self.champion(), frozenset(self.versions()), promotions)

    def versions(self) -> dict[int, Any]:
        found = self.direct.search_model_versions(f"name = '{MODEL_NAME}'")
        return {int(mv.version): mv for mv in found}

    def aliases(self, version: int) -> list[str]:
        return list(self.direct.get_model_version(MODEL_NAME, str(version)).aliases)

    def runs_of(self, flow_run: State) -> list[Any]:
        tag = f"tags.`{FLOW_RUN_TAG}` = '{flow_run.state_details.flow_run_id}'"
        return list(self.direct.search_runs(self._experiment(), tag))

    def logged_model_states(self, run_id: str) -> set[str]:
        found = self.direct.search_logged_models(self._experiment(), f"source_run_id = '{run_id}'")
        return {str(model.status) for model in found}

    def _experiment(self) -> list[str]:
        experiment = self.direct.get_experiment_by_name(EXPERIMENT)
        assert experiment is not None
        return [experiment.experiment_id]

    def assert_every_version_complete(self) -> None:
        """A version exists only if its model is fully stored."""
        for number, mv in self.versions().items():
            assert mv.status == "READY", f"v{number} is {mv.status}"
            model = self.direct.get_logged_model(mv.source.removeprefix("models:/"))
            assert model.status == LoggedModelStatus.READY, f"v{number}'s model: {model.status}"


@dataclass
class Outage:
    """Cuts MLflow once, from inside a run, when a wrapped call is reached."""

    lab: Lab
    monkeypatch: pytest.MonkeyPatch
    mode: Mode
    timeout_s: int  # MLflow's per-request timeout once cut
    at: float | None = None  # when it was cut (monotonic)
    reached: list[str] = field(default_factory=list)  # the wrapped calls, in order

    def now(self) -> None:
        if self.at is None:
            self.monkeypatch.setenv(TIMEOUT_VARIABLE, str(self.timeout_s))
            self.lab.proxy.set_mode(self.mode)
            self.at = time.monotonic()

    def on(
        self,
        owner: Any,
        name: str,
        *,
        after: bool = False,
        when: Callable[..., bool] = lambda *_a, **_k: True,
    ) -> None:
        """Cut before (or just after) the first call of ``owner.name`` that ``when`` accepts."""
        original = getattr(owner, name)

        def hooked(*args: Any, **kwargs: Any) -> Any:
            self.reached.append(name)
            if not after and when(*args, **kwargs):
                self.now()
            result = original(*args, **kwargs)
            if after and when(*args, **kwargs):
                self.now()
            return result

        self.monkeypatch.setattr(owner, name, hooked)

    def end(self) -> None:
        self.monkeypatch.undo()
        self.lab.proxy.set_mode("pass")


def champion_alias(_client: Any, _name: str, alias: str, _version: str) -> bool:
    return alias == CHAMPION
