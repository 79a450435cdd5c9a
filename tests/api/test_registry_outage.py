"""The API through an MLflow outage, on real processes (issue 15).

A real ``mlflow server`` over the API tests' store and the real API (``python -m api``, one
worker) with its own var dir. MLflow is killed (SIGKILL) while the API serves: the API keeps
answering and ``/health`` dates the outage. The API is then restarted while MLflow is still down:
it serves the same version from its local copy, says so, and gives the same answers. MLflow comes
back on the same port and store: the next check ends the outage.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.harness import isolated_env, process_group, wait_http
from core.serving import local_copy
from tests.api.conftest import ModelStore
from tests.mlflow_server import mlflow_server
from tests.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = [
    {"designation": "Piscine tubulaire ronde 3,66 x 0,76 m", "description": "<b>bâche</b>"},
    {"designation": "Lot de 4 figurines", "description": "Neuf, boîte d'origine"},
    {"designation": "Livre de poche — Éditions Gallimard", "description": ""},
    {"designation": "Console de jeux portable", "description": "avec deux manettes"},
]


@contextlib.contextmanager
def api(var_dir: Path, registry: str, folder: Path) -> Iterator[str]:
    port = free_port()
    env = isolated_env(
        "RAKUTEN_",
        "MLFLOW_",
        RAKUTEN_MLFLOW_TRACKING_URI=registry,
        RAKUTEN_DATABASE_URL=f"sqlite:///{folder / 'api.db'}",
        RAKUTEN_VAR_DIR=str(var_dir),
        RAKUTEN_API_URL=f"http://127.0.0.1:{port}",
        RAKUTEN_API_WORKERS="1",
        RAKUTEN_API_POLL_SECONDS="0.5",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    log = folder / f"api-{time.monotonic_ns()}.log"
    with process_group([sys.executable, "-m", "api"], cwd=ROOT, env=env, log=log) as process:
        wait_http("API", f"http://127.0.0.1:{port}/ready", process, log, 120)
        yield f"http://127.0.0.1:{port}"


def answers(url: str) -> list[tuple[int, list[int], list[float]]]:
    """Each product's class, its top-5 codes and their probabilities, from ``/predict``."""
    found = []
    for product in PRODUCTS:
        answer = httpx.post(f"{url}/predict", json=product, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        top = body["top_k"]
        found.append((body["code"], [c["code"] for c in top], [c["probability"] for c in top]))
    return found


def health(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/health", timeout=10).json())


def until(what: str, check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not seen after {timeout} s"
        time.sleep(0.1)


def same(found: list[Any], expected: list[Any]) -> None:
    for (code, codes, probs), (code0, codes0, probs0) in zip(found, expected, strict=True):
        assert (code, codes) == (code0, codes0)
        assert probs == pytest.approx(probs0, abs=1e-9)


def test_the_api_serves_through_an_mlflow_outage_and_restarts_from_its_local_copy(
    model_store: ModelStore, tmp_path: Path
) -> None:
    port = free_port()
    registry = f"http://127.0.0.1:{port}"
    var_dir = tmp_path / "var"
    champion = model_store.champion()
    with mlflow_server(model_store.tracking_uri, port, tmp_path / "mlflow") as mlflow:
        with api(var_dir, registry, tmp_path) as url:
            before = answers(url)
            first = health(url)
            assert first["model"]["version"] == champion and first["last_error"] is None
            assert first["registry_unreachable_since"] is None
            assert not first["serving_local_copy"]
            kept = local_copy.read_manifest(local_copy.champion_dir(var_dir))
            assert kept is not None and (kept.version, kept.source) == (champion, registry)

            os.killpg(mlflow.pid, signal.SIGKILL)  # MLflow dies while the API serves
            mlflow.wait(10)
            until("the outage on /health", lambda: health(url)["registry_unreachable_since"])
            during = health(url)
            assert during["model"]["version"] == champion and not during["serving_local_copy"]
            assert "MLflow not reachable" in during["last_error"]
            same(answers(url), before)  # still serving the loaded champion
            time.sleep(1.2)  # two more failed checks: the outage keeps its start
            assert health(url)["registry_unreachable_since"] == during["registry_unreachable_since"]

        # Restarted during the outage: before, every request got a 503 until MLflow came back.
        with api(var_dir, registry, tmp_path) as url:
            restarted = health(url)
            assert restarted["serving_local_copy"] is True
            assert restarted["model"]["version"] == champion
            assert restarted["registry_unreachable_since"] is not None
            assert restarted["last_error"].startswith("MLflow unreachable since ")
            assert f"serving the local copy of v{champion} saved at" in restarted["last_error"]
            same(answers(url), before)
            assert httpx.get(f"{url}/ready", timeout=10).status_code == 200

            # MLflow back, on the same store: the registry is the truth again.
            with mlflow_server(model_store.tracking_uri, port, tmp_path / "mlflow"):

                def recovered() -> bool:
                    now = health(url)
                    return now["registry_unreachable_since"] is None and now["last_error"] is None

                until("the end of the outage", recovered)
                after = health(url)
                assert after["model"]["version"] == champion
                assert not after["serving_local_copy"]
                same(answers(url), before)
