"""``/metrics`` of several workers: one scrape adds up every worker, and forgets dead ones' gauges.

prometheus_client picks its multiprocess mode when it is imported, so each "worker" here is a
fresh interpreter with ``PROMETHEUS_MULTIPROC_DIR`` set, as ``python -m api`` sets it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from core.settings import REPO_ROOT

WORKER = textwrap.dedent(
    """
    import sys
    from api.metrics import ApiMetrics

    metrics = ApiMetrics()
    queued = int(sys.argv[1])
    metrics.requests.labels("/predict", "POST", "200").inc(queued)
    metrics.track(metrics.log_queue, lambda: queued)
    metrics.serving("rakuten-product-classifier", queued, "run")
    if sys.argv[2] == "scrape":
        from prometheus_client import generate_latest
        sys.stdout.write(generate_latest(metrics.registry).decode())
    """
)


def _worker(directory: Path, queued: int, action: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(queued), action],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def _samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def test_a_scrape_sums_counters_of_every_worker_and_gauges_of_live_ones(tmp_path: Path) -> None:
    _worker(tmp_path, 3, "exit")  # a worker that served 3 requests, then died
    samples = _samples(_worker(tmp_path, 5, "scrape"))  # the worker that answers the scrape

    key = ("endpoint", "/predict"), ("method", "POST"), ("status", "200")
    assert samples[("rakuten_api_requests_total", key)] == 8  # 3 + 5: the dead one's still count
    assert samples[("rakuten_api_inference_log_queue_rows", ())] == 5  # the live one's only
    assert samples[("rakuten_api_model_loaded", ())] == 1
    version = ("name", "rakuten-product-classifier"), ("run_id", "run"), ("version", "5")
    assert samples[("rakuten_api_model_info", version)] == 1
    assert not any(
        name == "rakuten_api_model_info" and dict(labels)["version"] == "3"
        for name, labels in samples
    )  # the dead worker's model is not served any more


def test_a_worker_that_swaps_says_its_old_version_is_no_longer_served(tmp_path: Path) -> None:
    script = WORKER.replace(
        'if sys.argv[2] == "scrape":',
        'metrics.serving("rakuten-product-classifier", 9, "run9")\nif sys.argv[2] == "scrape":',
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, "4", "scrape"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    samples = _samples(done.stdout)
    served = {
        dict(labels)["version"]: value
        for (name, labels), value in samples.items()
        if name == "rakuten_api_model_info"
    }
    assert served == {"4": 0, "9": 1}
    assert samples[("rakuten_api_model_version", ())] == 9
