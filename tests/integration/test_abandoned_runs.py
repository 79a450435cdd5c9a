"""What a train run leaves when MLflow goes away, on a real MLflow tracking store (SQLite).

The whole outage, on real processes, is in :mod:`tests.integration.test_train_mlflow_outage`; here
are its pieces, fast: which runs a later train run ends FAILED, how a client error with no answer
behind it reads, and the one-try policy of a clean-up request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from core.adapters.errors import AdapterError, Unreachable
from core.adapters.mlflow_http import (
    BRIEF_TIMEOUT,
    RETRIES_VARIABLE,
    TIMEOUT_VARIABLE,
    brief_requests,
    mlflow_error,
)
from core.adapters.model_store import MlflowModelStore
from core.tracking import EXPERIMENT, FLOW_RUN_TAG

URI = "http://mlflow.test:5000"


def test_a_later_run_ends_only_the_runs_whose_flow_run_is_over(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment(
        EXPERIMENT, artifact_location=(tmp_path / "mlruns").as_uri()
    )

    def run(owner: str | None) -> str:
        tags = {FLOW_RUN_TAG: owner} if owner else {}
        return client.create_run(experiment, tags=tags).info.run_id

    cut_off, still_going, outside_a_flow = run("flow-a"), run("flow-b"), run(None)
    finished = run("flow-c")
    client.set_terminated(finished, "FINISHED")
    pending = client.create_logged_model(experiment, source_run_id=cut_off).model_id
    asked: list[str] = []

    def is_over(flow_run_id: str) -> bool:
        asked.append(flow_run_id)
        return flow_run_id in {"flow-a", "flow-c"}

    store = MlflowModelStore(tracking_uri)
    assert store.close_abandoned_runs(is_over) == [cut_off]
    status = {r: client.get_run(r).info.status for r in (cut_off, still_going, outside_a_flow)}
    assert status == {cut_off: "FAILED", still_going: "RUNNING", outside_a_flow: "RUNNING"}
    assert client.get_run(finished).info.status == "FINISHED"  # not RUNNING: never asked about
    assert sorted(asked) == ["flow-a", "flow-b"]
    assert client.get_logged_model(pending).status == LoggedModelStatus.FAILED
    assert store.close_abandoned_runs(is_over) == []  # done once


def test_no_experiment_yet_means_nothing_to_end(tmp_path: Path) -> None:
    store = MlflowModelStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert store.close_abandoned_runs(lambda _id: True) == []


def raised_by_mlflow(lost: requests.RequestException) -> MlflowException:
    """What MLflow's client raises when ``lost`` ends a request's retries: a timeout becomes the
    cause of its exception, any other error only its context."""
    try:
        try:
            raise lost
        except requests.Timeout as exc:
            raise MlflowException(f"API request to {URI}/api failed with timeout {exc}") from exc
        except requests.RequestException as exc:
            raise MlflowException(f"API request to {URI}/api failed with exception {exc}")  # noqa: B904
    except MlflowException as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("lost", "shown"),
    [
        (requests.ConnectionError("Connection refused"), "ConnectionError"),
        (requests.ReadTimeout("Read timed out"), "ReadTimeout"),
    ],
)
def test_a_client_error_with_no_answer_behind_it_reads_as_unreachable(
    lost: requests.RequestException, shown: str
) -> None:
    error = mlflow_error(raised_by_mlflow(lost), URI)
    assert isinstance(error, Unreachable)
    assert str(error) == f"MLflow not reachable at {URI} ({shown})"


def test_an_answered_error_stays_mlflows_own() -> None:
    error = mlflow_error(MlflowException("Registered model 'x' is invalid"), URI)
    assert type(error) is AdapterError
    assert str(error) == f"MLflow error at {URI}: Registered model 'x' is invalid"


def test_a_clean_up_request_is_tried_once_then_the_policy_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RETRIES_VARIABLE, "2")
    monkeypatch.delenv(TIMEOUT_VARIABLE, raising=False)
    with brief_requests():
        assert os.environ[RETRIES_VARIABLE] == "0"
        assert os.environ[TIMEOUT_VARIABLE] == str(BRIEF_TIMEOUT)
    assert os.environ[RETRIES_VARIABLE] == "2" and TIMEOUT_VARIABLE not in os.environ
