"""MLflow's retry and timeout policy: one table, applied per kind of process, the env winning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.adapters.mlflow_http import HTTP_POLICY, Caller, use_http_policy
from core.adapters.model_store import model_store

RETRIES, TIMEOUT = "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"


@pytest.mark.parametrize("caller", sorted(HTTP_POLICY))
def test_each_caller_gets_its_policy(caller: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETRIES, raising=False)
    monkeypatch.delenv(TIMEOUT, raising=False)
    use_http_policy(caller)
    retries, timeout = HTTP_POLICY[caller]
    assert (int(os.environ[RETRIES]), int(os.environ[TIMEOUT])) == (retries, timeout)
    assert retries < 7 and timeout <= 120  # never slower than MLflow's own defaults


def test_an_operator_setting_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(RETRIES, "0")
    monkeypatch.delenv(TIMEOUT, raising=False)
    store = model_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "app")
    assert os.environ[RETRIES] == "0" and os.environ[TIMEOUT] == str(HTTP_POLICY["app"][1])
    store.check_reachable()  # a local store: nothing to reach
