"""A real Prometheus server, started with the project's own config, scrapes the real API.

The Debian package ``prometheus`` provides ``/usr/bin/prometheus`` (``.ci/run`` installs it). The
API runs under uvicorn with the small real models of ``model_store``; Prometheus gets the project's
``monitoring/prometheus/prometheus.yml`` with only the target moved from the compose service
``api:8000`` to that API. Both listen on free ports of 127.0.0.1 only.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core.settings import REPO_ROOT
from tests.api.conftest import ModelStore, api_settings, running_api
from tests.conftest import missing_service
from tests.ports import free_port

PROMETHEUS = Path("/usr/bin/prometheus")
PROJECT_CONFIG = REPO_ROOT / "monitoring" / "prometheus" / "prometheus.yml"
COMPOSE_TARGET = "api:8000"
TIMEOUT_S = 30.0
PREDICTIONS = 5

pytestmark = pytest.mark.slow


@dataclass
class RunningPrometheus:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result vector of an instant query (empty when the series does not exist)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> str:
        """Each active target's URL, health and last scrape error (for failure messages)."""
        try:
            answer = httpx.get(f"{self.url}/api/v1/targets", timeout=5).json()
        except (httpx.HTTPError, ValueError) as exc:
            return f"(targets unavailable: {exc!r})"
        return "; ".join(
            f"{t['scrapeUrl']} {t['health']} {t['lastError']!r}"
            for t in answer["data"]["activeTargets"]
        )

    def wait_for(
        self, what: str, check: Callable[[], bool], seen: Callable[[], str] = lambda: ""
    ) -> None:
        """Poll ``check`` until true; fail after TIMEOUT_S with ``seen()`` and the log tail."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                if check():
                    return
                error = ""
            except httpx.HTTPError as exc:  # not listening yet, or restarting
                error = f" (last error: {exc!r})"
            exited = self.process.poll()
            if exited is not None or time.monotonic() > deadline:
                state = f"exited with code {exited}" if exited is not None else "still running"
                pytest.fail(
                    f"Prometheus: {what} not reached within {TIMEOUT_S:.0f} s{error}{seen()}; "
                    f"process {state}. Log tail ({self.log}):\n{self.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.2)


@pytest.fixture(scope="session")
def prometheus_binary() -> Path:
    """The server binary; session-scoped so it is checked before the (slower) models are built."""
    if not os.access(PROMETHEUS, os.X_OK):
        missing_service(
            f"Prometheus server not found at {PROMETHEUS} "
            "(Debian: apt-get install prometheus; .ci/run installs it)"
        )
    return PROMETHEUS


@pytest.fixture(scope="module")
def api_url(
    prometheus_binary: Path, tmp_path_factory: pytest.TempPathFactory, model_store: ModelStore
) -> Iterator[str]:
    """The real API under uvicorn in a thread, champion version 1 loaded."""
    settings = api_settings(tmp_path_factory.mktemp("scraped-api"), model_store.tracking_uri)
    with running_api(settings, TIMEOUT_S) as url:
        assert httpx.get(f"{url}/ready", timeout=5).json()["version"] == 1
        yield url


def scrape_config(api_address: str) -> dict[str, Any]:
    """The project's config with only the API target replaced (and a 1 s scrape interval)."""
    config = yaml.safe_load(PROJECT_CONFIG.read_text())
    jobs = config["scrape_configs"]
    assert [job["job_name"] for job in jobs] == ["api"], f"{PROJECT_CONFIG}: {jobs}"
    (job,) = jobs
    assert job.get("metrics_path", "/metrics") == "/metrics", job
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert targets == [COMPOSE_TARGET], f"{PROJECT_CONFIG}: the API target is {targets}"
    job["static_configs"][0]["targets"] = [api_address]
    # The project scrapes every 5 s; 1 s keeps this test short (two scrapes are waited for).
    config["global"]["scrape_interval"] = "1s"
    return config


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: Path, api_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPrometheus]:
    """The real Prometheus server scraping ``api_url``; terminated at module end."""
    root = tmp_path_factory.mktemp("prometheus")
    config_file = root / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(scrape_config(api_url.removeprefix("http://"))))
    address = f"127.0.0.1:{free_port()}"
    log = root / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(prometheus_binary),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = RunningPrometheus(f"http://{address}", log, process)
    try:
        server.wait_for(
            "/-/ready", lambda: httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200
        )
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_prometheus_scrapes_the_api_and_sees_its_request_counter_grow(
    prometheus: RunningPrometheus, api_url: str
) -> None:
    up_query = 'up{job="api"}'
    ups: list[float | None] = []

    def is_up() -> bool:
        ups.append(prometheus.value(up_query))
        return ups[-1] == 1

    prometheus.wait_for(
        f"{up_query} == 1",
        is_up,
        lambda: f"; last value: {ups[-1:]}; targets: {prometheus.targets()}",
    )
    (up,) = prometheus.query(up_query)
    assert up["metric"]["service"] == "predictor-api", up  # the project's target labels are kept

    requests_to_predict = 'sum(rakuten_api_requests_total{endpoint="/predict", method="POST"})'
    before = prometheus.value(requests_to_predict) or 0.0  # absent until the first request
    for _ in range(PREDICTIONS):
        answer = httpx.post(
            f"{api_url}/predict", json={"designation": "Piscine tubulaire ronde"}, timeout=10
        )
        assert answer.status_code == 200, answer.text

    seen: list[float | None] = []

    def grown() -> bool:
        seen.append(prometheus.value(requests_to_predict))
        return (seen[-1] or 0.0) >= before + PREDICTIONS

    prometheus.wait_for(
        f"{requests_to_predict} >= {before:g} + {PREDICTIONS}",
        grown,
        lambda: f"; last values: {seen[-5:]}",
    )
