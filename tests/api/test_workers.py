"""``python -m api`` with two uvicorn workers: each stays correct, and together they add up.

The real API runs as ``make run`` starts it (``RAKUTEN_API_WORKERS=2``) on 127.0.0.1, over the
real MLflow store of ``model_store`` and a SQLite inference log. Its poll is an hour long, so a
worker can only follow a promotion through the reload signal. Which worker answered is read from
the per-process files of prometheus_client's multiprocess mode (one file per worker pid).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import create_engine, func, select

from core.db.tables import inference_log
from tests.api.conftest import TOKEN, ModelStore
from tests.ports import free_port

pytestmark = pytest.mark.slow

WORKERS = 2
START_TIMEOUT_S = 60


@dataclass
class Workers:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_dir: Path
    database: Path

    def get(self, path: str) -> httpx.Response:
        """One request on a fresh connection, so the kernel may hand it to either worker."""
        return httpx.get(f"{self.url}{path}", timeout=10)

    def served_by(self, endpoint: str) -> dict[int, float]:
        """Requests answered on ``endpoint`` by each worker pid, from its own counter file."""
        answered: dict[int, float] = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.rsplit("_", 1)[1])
            for metric in MultiProcessCollector.merge([str(path)]):
                for sample in metric.samples:
                    if (
                        sample.name == "rakuten_api_requests_total"
                        and sample.labels.get("endpoint") == endpoint
                    ):
                        answered[pid] = answered.get(pid, 0.0) + sample.value
        return answered

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, model_store: ModelStore) -> Iterator[Workers]:
    root = tmp_path_factory.mktemp("api-workers")
    port = free_port()
    env = {
        **os.environ,
        "RAKUTEN_VAR_DIR": str(root / "var"),
        "RAKUTEN_DATABASE_URL": f"sqlite:///{root / 'api.db'}",
        "RAKUTEN_MLFLOW_TRACKING_URI": model_store.tracking_uri,
        "RAKUTEN_API_URL": f"http://127.0.0.1:{port}",
        "RAKUTEN_API_TOKEN": TOKEN,
        "RAKUTEN_API_WORKERS": str(WORKERS),
        "RAKUTEN_API_POLL_SECONDS": "3600",  # only the reload signal can move a worker
    }
    log = root / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = Workers(
        f"http://127.0.0.1:{port}",
        process,
        log,
        root / "var" / "run" / "api" / "metrics",
        root / "api.db",
    )
    try:
        _wait_for_every_worker(running)
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # as the supervisor stops it
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"the API did not stop on SIGTERM: {running.log_tail()}")


def _wait_for_every_worker(running: Workers) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while running.log.read_text(errors="replace").count("Application startup complete") < WORKERS:
        assert running.process.poll() is None, f"the API exited: {running.log_tail()}"
        assert time.monotonic() < deadline, f"the workers did not start: {running.log_tail()}"
        time.sleep(0.1)


def _until(what: str, check: object, timeout: float, running: Workers) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - start < timeout, f"{what} after {timeout} s: {running.log_tail()}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_one_reload_moves_every_worker(workers: Workers, model_store: ModelStore) -> None:
    assert workers.get("/model").json()["version"] == 1
    model_store.force(2)
    try:
        answer = httpx.post(
            f"{workers.url}/model/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["version"] == 2

        def every_answer_is_version_2() -> bool:
            versions = {workers.get("/model").json()["version"] for _ in range(20)}
            return versions == {2}

        took = _until("a worker still serves version 1", every_answer_is_version_2, 10, workers)
        print(f"every worker served version 2 {took:.2f} s after the reload")  # noqa: T201
        for _ in range(10):  # what each worker says about itself agrees too
            assert workers.get("/ready").json()["version"] == 2
            health = workers.get("/health").json()
            assert health["model"]["version"] == 2 and health["last_error"] is None
        answered = workers.served_by("/model")
        assert len(answered) == WORKERS and all(answered.values()), answered
        named = {int(workers.get("/model").headers["x-api-worker"]) for _ in range(20)}
        assert named <= set(answered), (named, answered)  # each answer names its worker
    finally:
        model_store.force(1)


def test_every_worker_logs_its_predictions_and_metrics_add_up(workers: Workers) -> None:
    requests_before = _sample(workers, 'rakuten_api_requests_total{endpoint="/predict"')
    written_before = _sample(workers, "rakuten_api_inference_log_rows_written_total")
    sent = 200

    def predict(n: int) -> str:
        body = {"designation": f"Lot de {n} figurines", "description": "Neuf, boîte d'origine"}
        answer = httpx.post(f"{workers.url}/predict", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["request_id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(predict, range(sent)))
    assert len(set(ids)) == sent

    engine = create_engine(f"sqlite:///{workers.database}")
    try:

        def rows() -> int:
            with engine.connect() as conn:
                query = select(func.count()).where(inference_log.c.request_id.in_(ids))
                return int(conn.execute(query).scalar_one())

        _until(f"fewer than {sent} rows", lambda: rows() >= sent, 10, workers)
        time.sleep(0.5)  # a duplicate would land in the next flush
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(inference_log)).scalar_one()
            unique = conn.execute(
                select(func.count(inference_log.c.request_id.distinct()))
            ).scalar_one()
        assert rows() == sent and total == unique  # none lost, none written twice
    finally:
        engine.dispose()

    answered = workers.served_by("/predict")
    assert len(answered) == WORKERS and all(answered.values()), answered
    # One scrape, whichever worker answers it, sees every worker's counts.
    requests_after = _sample(workers, 'rakuten_api_requests_total{endpoint="/predict"')
    assert requests_after - requests_before == sent
    written_after = _sample(workers, "rakuten_api_inference_log_rows_written_total")
    assert written_after - written_before == sent
    assert _sample(workers, "rakuten_api_model_loaded") == 1


def _sample(workers: Workers, prefix: str) -> float:
    """The sum of the series starting with ``prefix`` in one scrape of ``/metrics``."""
    text = workers.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )
