"""A serving process that follows an MLflow server holds neither mlflow, scikit-learn nor pandas.

The champion is found over MLflow's REST API (:class:`HttpRegistry`) and compiled by a child
process (:mod:`core.serving.isolated`); the API process under uvicorn answers from the compiled
model, and its memory shows none of those libraries (``/proc/<pid>/maps``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.harness import isolated_env, memory_mib, process_group, wait_http
from core.adapters.errors import Missing, Unreachable
from core.adapters.model_store import MlflowModelStore
from core.adapters.registry_http import HttpRegistry
from core.registry import CHAMPION
from core.serving.compiled import CompiledModel
from core.serving.isolated import compile_in_child
from core.train import INPUT_COLUMNS
from tests.api.conftest import ModelStore
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("/sklearn/", "/pandas/", "/pyarrow/", "/mlflow/", "/scipy/stats/")


@pytest.fixture(scope="module")
def server(model_store: ModelStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` over the API tests' store (versions 1 and 2, champion 1)."""
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", model_store.tracking_uri]
    env = isolated_env("MLFLOW_", "RAKUTEN_", MLFLOW_DISABLE_TELEMETRY="true")
    log = tmp / "mlflow.log"
    with process_group(command, cwd=tmp, env=env, log=log) as process:
        wait_http("mlflow server", f"http://127.0.0.1:{port}/health", process, log, 120)
        yield f"http://127.0.0.1:{port}"


def test_the_champion_is_found_over_rest_as_the_mlflow_client_finds_it(
    server: str, model_store: ModelStore
) -> None:
    registry = HttpRegistry(server)
    registry.check_reachable()
    assert registry.champion_ref() == MlflowModelStore(model_store.tracking_uri).champion_ref()
    with pytest.raises(Unreachable, match="MLflow not reachable at http://127.0.0.1:9"):
        HttpRegistry("http://127.0.0.1:9").check_reachable()


def test_no_champion_reads_as_missing(server: str, model_store: ModelStore) -> None:
    store = MlflowModelStore(model_store.tracking_uri)
    champion = store.champion_ref().version
    store.delete_alias(CHAMPION)
    try:
        with pytest.raises(Missing, match="no champion yet"):
            HttpRegistry(server).champion_ref()
    finally:  # put back as it was (not a promotion: the promotion log stays as it is)
        store.set_alias(CHAMPION, champion)


def test_a_child_process_compiles_the_version_the_pipeline_verified(
    server: str, model_store: ModelStore
) -> None:
    store = MlflowModelStore(model_store.tracking_uri)
    ref = store.champion_ref()
    compiled = compile_in_child(server, ref)
    assert isinstance(compiled, CompiledModel)
    holdout = model_store.holdout[list(INPUT_COLUMNS)]  # type: ignore[attr-defined]
    expected = store.load_pipeline(ref).predict_proba(holdout)
    found = compiled.predict_proba_products(
        holdout.designation.tolist(), holdout.description.tolist()
    )
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-6)


def test_the_api_process_serves_without_mlflow_sklearn_or_pandas(
    server: str, tmp_path: Path
) -> None:
    env = isolated_env(
        "RAKUTEN_",
        "MLFLOW_",
        RAKUTEN_MLFLOW_TRACKING_URI=server,
        RAKUTEN_DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}",
        RAKUTEN_VAR_DIR=str(tmp_path / "var"),
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "api.log"
    with process_group(command, cwd=ROOT, env=env, log=log) as api:
        wait_http("API", f"http://127.0.0.1:{port}/ready", api, log, 120)
        body = json.dumps({"designation": "Piscine tubulaire", "description": "<b>bâche</b>"})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200 and json.loads(answer.read())["model"]["version"] == 1
        maps = Path(f"/proc/{api.pid}/maps").read_text()
        rss = memory_mib(api.pid)["VmRSS"]
    loaded = sorted({part for part in HEAVY if part in maps})
    assert not loaded, f"the serving process mapped {loaded}"
    # The fallback (the pipeline in-process) would have mapped scikit-learn: this is compiled.
    assert rss < 200, f"the serving process holds {rss:.0f} MiB"


def test_importing_the_api_imports_none_of_them() -> None:
    code = "import sys, api.main; print(sorted(m for m in sys.modules if m in {0!r}))"
    names = {"sklearn", "pandas", "pyarrow", "mlflow", "matplotlib", "scipy.stats"}
    done = subprocess.run(
        [sys.executable, "-c", code.format(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"
