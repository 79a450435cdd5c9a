"""Serving benchmark: the predictor API against ``mlflow models serve``, same model, same run.

    .venv/bin/python bench/serving.py [--rows N] [--seconds S] [--write docs/BENCHMARKS.md]

A worker subprocess trains the default ``TrainConfig()`` on the built-in catalogue's pool (84,916
rows by default, split 85/15 as at import), logs it to a fresh SQLite MLflow store, registers it as
version 1 of ``rakuten-product-classifier`` and promotes it to champion. The same version is then
served two ways at once, each as it ships and with one worker process:

1. the API, ``uvicorn api.main:create_app --factory --workers 1 --no-access-log``: loads
   ``@champion``, answers the top 5 classes with names and probabilities, and queues every
   prediction to the inference log (SQLite, background thread), which is part of its cost.
   ``/predict`` micro-batches: concurrent single products waiting at the same moment share one
   model call (``api/batching.py``);
2. ``mlflow models serve -m models:/rakuten-product-classifier/1 --env-manager local --workers 1``
   (MLflow's FastAPI scoring server under uvicorn), which answers class codes only. Its uvicorn is
   told not to write an access log either (``UVICORN_ACCESS_LOG=false``), so that neither server
   pays for a log line per request.

The load generator is this process, which imports nothing heavy: ``http.client`` keep-alive
connections on 127.0.0.1, one per thread, per-request latency from ``perf_counter``. Inputs cycle
through 500 holdout products of the synthetic catalogue (titles and HTML descriptions). After a
warm-up per server, each scenario runs on the two servers in A-B-B-A order (half the time or
count per slot) so that a drift of the shared machine weighs on both alike:

* one product per request, concurrency 1 and 16, ``--seconds`` per server and scenario:
  p50/p95/p99 latency and requests per second; the API's ``rakuten_api_microbatch_size``
  histogram is scraped from ``/metrics`` around each run for the mean products per model call;
* batches of 100 products, concurrency 1, a fixed number of requests: latency and products/s;
* the floor of each stack: a trivial ``GET`` (``/ready``, ``/ping``) at concurrency 1.

Each server's CPU time per request comes from ``/proc/<pid>/stat`` around each run, memory from
``VmRSS``/``VmHWM`` after the runs. A second worker splits the latency: each server's whole ASGI
app called in-process (no socket, no uvicorn) and the parts inside it (request, the
micro-batcher, model steps, answer, inference-log queue; model calls on 1 to 100 products), the
probes taking turns so that noise weighs on all alike. It runs
between the two halves of the concurrency-1 load, with no load applied, so that its numbers and
the client-observed ones are centred on the same moment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import memory_mib, run_worker, save_result, say, worker_arguments  # noqa: E402
from bench.markdown import publish  # noqa: E402
from bench.serving_load import WARMUP_REQUESTS, Target, abba, generate  # noqa: E402
from bench.serving_report import SECTION, report  # noqa: E402
from bench.serving_servers import (  # noqa: E402
    api_metrics,
    child_env,
    log_problems,
    post_json,
    serve,
    wait_ready,
)
from bench.serving_workers import (  # noqa: E402
    BATCH_SIZE,
    MODEL_URI,
    WORKERS,
    encode_bodies,
)
from tests.ports import free_port  # noqa: E402

DEFAULT_BATCHES = 50  # batch requests per server
WORKER_TIMEOUT_S = 900
SCENARIOS = ("c1", "c16", "batch", "floor")  # results' keys: [API's Load, MLflow's Load]


def worker(kind: str, tmp: Path, rows: int) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (cwd = tmp: no .env, MLflow's files stay in tmp)."""
    return run_worker(
        __file__,
        kind,
        ["--rows", str(rows)],
        tmp=tmp,
        env=child_env(tmp),
        timeout=WORKER_TIMEOUT_S,
    )


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, as the report shows it."""
    line = f".venv/bin/python bench/serving.py --rows {args.rows} --seconds {args.seconds:g}"
    if args.batches != DEFAULT_BATCHES:
        line += f" --batches {args.batches}"
    if args.write:
        line += f" --write {args.write}"
    return line


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"prepare": worker("prepare", tmp, args.rows)}
    products = json.loads((tmp / "products.json").read_text())
    bodies = encode_bodies(products)
    api_port, mlflow_port = free_port(), free_port()
    api_command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(api_port),
        "--workers",
        "1",
        "--no-access-log",
    ]
    mlflow_command = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        MODEL_URI,
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(mlflow_port),
        "--workers",
        "1",
    ]
    say("starting both servers …")
    with contextlib.ExitStack() as stack:
        # cwd is tmp (no .env), so the repository goes on the path as `make api`'s cwd would.
        api = stack.enter_context(serve("api", api_command, tmp, "/ready", PYTHONPATH=str(ROOT)))
        # MLflow's command line has no access-log flag; its uvicorn reads this (click env var).
        mlflow = stack.enter_context(
            serve("mlflow", mlflow_command, tmp, "/ping", UVICORN_ACCESS_LOG="false")
        )
        results["ready_api"], results["ready_mlflow"] = wait_ready(api), wait_ready(mlflow)
        results["mem_api_start"] = memory_mib(api.serving_pid)

        # Same answers? One product per request, then one batch, on both.
        agree = 0
        for body, mlflow_body in zip(bodies["api"][:20], bodies["mlflow"][:20], strict=True):
            code = post_json(api, "/predict", body)["code"]
            agree += code == post_json(mlflow, "/invocations", mlflow_body)["predictions"][0]
        answered = post_json(api, "/predict/batch", bodies["api_batch"][0])["predictions"]
        batch_api = [prediction["code"] for prediction in answered]
        batch_mlflow = post_json(mlflow, "/invocations", bodies["mlflow_batch"][0])["predictions"]
        agree_batch = sum(a == b for a, b in zip(batch_api, batch_mlflow, strict=True))
        results["agree"] = f"{agree}/20 products and {agree_batch}/{BATCH_SIZE} in the batch"
        sent_api = 20 + BATCH_SIZE  # products the API was asked to predict, warm-ups included

        single = (
            Target(
                api, "POST", "/predict", bodies["api"], 1, reads_latency=True, micro_batches=True
            ),
            Target(mlflow, "POST", "/invocations", bodies["mlflow"], 1),
        )
        batch = (
            Target(api, "POST", "/predict/batch", bodies["api_batch"], BATCH_SIZE, True),
            Target(mlflow, "POST", "/invocations", bodies["mlflow_batch"], BATCH_SIZE),
        )
        floor = (Target(api, "GET", "/ready", [b""], 0), Target(mlflow, "GET", "/ping", [b""], 0))
        say("warm-up …")
        warm_ups = [(target, WARMUP_REQUESTS) for target in single] + [(t, 5) for t in batch]
        for target, count in warm_ups:
            warmed = generate(target, 1, count=count)
            sent_api += warmed.sent if target.server is api else 0
        say(f"concurrency 1, {args.seconds:g} s per server …")
        # The in-process profile runs between the two halves, while no load is applied.
        results["c1"] = abba(
            single,
            1,
            seconds=args.seconds,
            between=lambda: results.update(profile=worker("profile", tmp, args.rows)),
        )
        say(f"concurrency 16, {args.seconds:g} s per server …")
        results["c16"] = abba(single, 16, seconds=args.seconds)
        say(f"batches of {BATCH_SIZE}, {args.batches} per server …")
        results["batch"] = abba(batch, 1, count=args.batches)
        say("floor (trivial GET) …")
        results["floor"] = abba(floor, 1, count=2_000)
        for key in SCENARIOS:
            for name, load in zip(("API", "MLflow"), results[key], strict=True):
                say(
                    f"  {key:5} {name:6} p50 {load.pct_ms(50):8.2f} ms  p95 "
                    f"{load.pct_ms(95):8.2f} ms  p99 {load.pct_ms(99):8.2f} ms  "
                    f"{load.rate:8.1f} req/s  failed {load.failed} {dict(load.statuses)} "
                    f"{dict(load.errors)}"
                    + (f"  micro-batch mean {load.micro_mean:.2f}" if load.micro_calls else "")
                )

        results["mem_api"] = memory_mib(api.serving_pid)
        results["mem_mlflow"] = memory_mib(mlflow.serving_pid)
        results["mem_mlflow_tree"] = sum(memory_mib(pid)["VmRSS"] for pid in mlflow.tree())
        time.sleep(2.0)  # the inference log flushes every 0.5 s
        metrics = api_metrics(api, "rakuten_api_inference_log", "rakuten_api_requests")
        results["log_written"] = metrics.get("rakuten_api_inference_log_rows_written_total", 0.0)
        results["log_failed"] = metrics.get("rakuten_api_inference_log_write_failures_total", 0.0)
        results["sent_api"] = sent_api + sum(results[key][0].sent for key in SCENARIOS)
        results["api_non_2xx"] = sum(
            value
            for name, value in metrics.items()
            if name.startswith("rakuten_api_requests_total") and 'status="2' not in name
        )
    for name in ("api", "mlflow"):
        problems = log_problems(tmp / f"{name}.log")
        results[f"{name}_problems"] = len(problems)
        for line in problems[:10]:
            say(f"  {name} log: {line[:200]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=84_916)
    parser.add_argument("--seconds", type=float, default=10.0, help="per server and scenario")
    parser.add_argument(
        "--batches", type=int, default=DEFAULT_BATCHES, help="batch requests per server"
    )
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    worker_arguments(parser, WORKERS)
    args = parser.parse_args()

    if args.worker:
        save_result(args.out, WORKERS[args.worker](args.tmp, args.rows))
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers are stopped too
    load_avg = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="bench_serving_") as name:
            results = run(args, Path(name))
    except KeyboardInterrupt:  # the servers and the directory are gone by now
        raise SystemExit("interrupted") from None
    section = report(results, command(args), args.seconds, args.batches, load_avg)
    publish(section, SECTION, args.write)


if __name__ == "__main__":
    main()
