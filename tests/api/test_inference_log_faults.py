"""Every answered prediction reaches the inference log exactly once, whatever the network does.

The real API runs under uvicorn in its own process and reaches a fresh PostgreSQL database through
a TCP proxy this test owns. While a thread sends ~50 predictions a second, the proxy resets every
connection, black-holes them, stalls them, then refuses the database while the API is restarted
(SIGTERM, then a new process). After it heals, every request id answered 200 must be in
``inference_log`` exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url

from core.db.tables import inference_log
from tests.api.conftest import ModelStore
from tests.conftest import fresh_pg_database
from tests.ports import free_port
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITE_TIMEOUT = 1.5  # RAKUTEN_INFERENCE_LOG_WRITE_TIMEOUT of the API under test


class ApiProcess:
    """``python -m api`` with the given environment; its output goes to ``log``."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.url = env["RAKUTEN_API_URL"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api"],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not self._ready():
            assert self.process.poll() is None, f"the API exited: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the API is not ready: {self.log.read_text()}"
            time.sleep(0.1)

    def terminate(self, timeout: float = 30) -> None:
        """SIGTERM, as a service manager stops it, and wait for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            pytest.fail(f"the API did not stop on SIGTERM within {timeout} s")

    def health(self) -> dict:
        return requests.get(f"{self.url}/health", timeout=5).json()

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False


class Traffic(threading.Thread):
    """About ``rate`` predictions a second to the API; keeps the request ids answered 200."""

    def __init__(self, url: str, rate: float = 50) -> None:
        super().__init__(name="traffic", daemon=True)
        self.url, self.every = url, 1 / rate
        self.answered: list[str] = []
        self.failed = 0  # no answer (the API restarting): not expected in the log
        self.halt = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        n = 0
        next_at = time.monotonic()
        while not self.halt.is_set():
            n += 1
            body = {"designation": f"Piscine tubulaire ronde n°{n}", "description": "Filtre"}
            try:
                answer = session.post(f"{self.url}/predict", json=body, timeout=5)
            except requests.RequestException:
                self.failed += 1
                session = requests.Session()
            else:
                assert answer.status_code == 200, answer.text
                self.answered.append(answer.json()["request_id"])
            next_at += self.every
            time.sleep(max(0.0, next_at - time.monotonic()))


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    with fresh_pg_database("rakuten_faults") as url:
        yield url


def test_every_answered_prediction_is_logged_exactly_once_through_resets_stalls_and_a_restart(
    fresh_database: str, model_store: ModelStore, tmp_path: Path
) -> None:
    with TcpProxy(make_url(fresh_database).port or 5432) as proxy:
        env = {
            **os.environ,
            "RAKUTEN_VAR_DIR": str(tmp_path / "var"),
            "RAKUTEN_DATABASE_URL": proxy.url(fresh_database),
            "RAKUTEN_MLFLOW_TRACKING_URI": model_store.tracking_uri,
            "RAKUTEN_API_URL": f"http://127.0.0.1:{free_port()}",
            "RAKUTEN_INFERENCE_LOG_WRITE_TIMEOUT": str(WRITE_TIMEOUT),
            # One process: /health reports the writer of the worker that answers, and this
            # test follows one writer's states (tests/api/test_workers.py covers several).
            "RAKUTEN_API_WORKERS": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        api = ApiProcess(env, tmp_path, tmp_path / "api.log")
        api.start()
        traffic = Traffic(api.url)
        traffic.start()
        try:
            time.sleep(2)
            proxy.reset()  # the database restarted: every pooled connection is dead
            time.sleep(1.5)
            proxy.set_mode("blackhole")  # packets vanish, mid-query included
            wait_for(lambda: api.health()["inference_log"]["state"] != "ok", timeout=10)
            proxy.set_mode("pass")
            wait_for(lambda: api.health()["inference_log"]["state"] == "ok", timeout=10)
            proxy.set_mode("stall")  # the peer stops answering, connections stay open
            wait_for(lambda: api.health()["inference_log"]["state"] != "ok", timeout=10)
            assert api.health()["inference_log"]["last_error"]
            proxy.set_mode("pass")
            time.sleep(1.5)
            proxy.set_mode("refuse")  # the database is down ...
            time.sleep(1)
            api.terminate()  # ... while the API is restarted: what it held must survive
            spooled = list((tmp_path / "var" / "spool").glob("*.jsonl"))
            assert spooled, f"nothing spilled on SIGTERM: {api.log.read_text()[-2000:]}"
            api.start()
            time.sleep(2)
            proxy.set_mode("pass")
            time.sleep(2)
        finally:
            traffic.halt.set()
            traffic.join(10)
        answered = set(traffic.answered)
        assert len(answered) == len(traffic.answered) > 500

        engine = create_engine(fresh_database)
        try:
            wait_for(lambda: answered <= set(logged(engine)), timeout=30)
            counts = logged(engine)
            assert all(counts[i] == 1 for i in answered)
            health = api.health()["inference_log"]
            assert health["state"] == "ok" and health["dropped"] == {}
            wait_for(lambda: not list((tmp_path / "var" / "spool").glob("*.jsonl")))
        finally:
            api.terminate()
            engine.dispose()


def logged(engine: Engine) -> dict[str, int]:
    query = select(inference_log.c.request_id, func.count()).group_by(inference_log.c.request_id)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(query).all())
    except Exception:  # noqa: BLE001 - the table may not exist yet
        return {}


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
