"""Serving benchmark: the predictor API against ``mlflow models serve``, same model, same run.

    .venv/bin/python bench/serving.py [--rows N] [--seconds S] [--write docs/BENCHMARKS.md]

A worker subprocess trains the default ``TrainConfig()`` on the built-in catalogue's pool (84,916
rows by default, split 85/15 as at import), logs it to a fresh SQLite MLflow store, registers it as
version 1 of ``rakuten-product-classifier`` and promotes it to champion. The same version is then
served at once by each server as it ships, on the same cores (none is pinned):

1. the API, ``python -m api`` with its default ``RAKUTEN_API_WORKERS`` (one uvicorn worker per
   usable core): loads ``@champion``, answers the top 5 classes with names and probabilities, and
   queues every prediction to the inference log (SQLite, a background thread per worker), which
   is part of its cost. ``/predict`` micro-batches concurrent single products in each worker;
2. ``mlflow models serve -m models:/rakuten-product-classifier/1 --env-manager local`` with
   MLflow's default number of workers (1), which answers class codes only; its uvicorn writes no
   access log (``UVICORN_ACCESS_LOG=false``), like the API's;
3. the same with ``--workers 2`` (``--mlflow-workers``), as an extra line for fairness.

The load generator is Debian's ``wrk`` (``bench.serving_load``), one thread, on 127.0.0.1, cycling
through 500 holdout products of the synthetic catalogue. After a warm-up per server, each scenario
runs on the servers in A-B-C-C-B-A order (half the time per slot): one product per request at
concurrency 1 and 16, batches of 100 products at concurrency 1, and each stack's trivial ``GET``
(``/ready``, ``/ping``) at concurrency 1. Each server's CPU time comes from ``/proc`` (its whole
process tree), memory from ``VmRSS`` of each serving process and of the tree after the runs; the
API's inference log is counted in its database at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import memory_mib, run_worker, save_result, say, worker_arguments  # noqa: E402
from bench.markdown import publish  # noqa: E402
from bench.serving_load import LUA, WRK, Target, generate, interleaved, write_bodies  # noqa: E402
from bench.serving_report import SECTION, report  # noqa: E402
from bench.serving_servers import (  # noqa: E402
    Server,
    api_metrics,
    child_env,
    log_problems,
    post_json,
    serve,
    wait_ready,
)
from bench.serving_workers import BATCH_SIZE, MODEL_URI, encode_bodies, work_prepare  # noqa: E402
from tests.ports import free_port  # noqa: E402

WORKER_TIMEOUT_S = 900
SCENARIOS = ("c1", "c16", "batch", "floor")  # results' keys: one Load per server, API first
WARMUP_S = 2.0  # per server and request kind, unmeasured


def worker(kind: str, tmp: Path, rows: int) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (cwd = tmp: no .env, MLflow's files stay in tmp)."""
    return run_worker(
        __file__, kind, ["--rows", str(rows)], tmp=tmp, env=child_env(tmp), timeout=WORKER_TIMEOUT_S
    )


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, as the report shows it."""
    line = f".venv/bin/python bench/serving.py --rows {args.rows} --seconds {args.seconds:g}"
    if args.mlflow_workers != 2:
        line += f" --mlflow-workers {args.mlflow_workers}"
    if args.write:
        line += f" --write {args.write}"
    return line


def mlflow_command(port: int, workers: int | None) -> list[str]:
    line = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", MODEL_URI]
    line += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    return line + (["--workers", str(workers)] if workers else [])


def start_servers(stack: contextlib.ExitStack, tmp: Path, extra: int) -> list[Server]:
    """The API with its default workers, MLflow with its default, and MLflow with ``extra``."""
    api_workers = len(os.sched_getaffinity(0))  # what RAKUTEN_API_WORKERS defaults to
    port = free_port()
    api_command = [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)]
    # cwd is tmp (no .env), so the repository goes on the path as `make api`'s cwd would.
    api_env = {"PYTHONPATH": str(ROOT), "RAKUTEN_API_URL": f"http://127.0.0.1:{port}"}
    servers = [
        stack.enter_context(serve("API", api_command, tmp, "/ready", api_workers, **api_env))
    ]
    # MLflow's command line has no access-log flag; its uvicorn reads this (click env var).
    quiet = {"UVICORN_ACCESS_LOG": "false"}
    servers.append(
        stack.enter_context(
            serve("MLflow", mlflow_command(free_port(), None), tmp, "/ping", 1, **quiet)
        )
    )
    if extra:
        name, line = f"MLflow×{extra}", mlflow_command(free_port(), extra)
        servers.append(stack.enter_context(serve(name, line, tmp, "/ping", extra, **quiet)))
    return servers


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"prepare": worker("prepare", tmp, args.rows)}
    products = json.loads((tmp / "products.json").read_text())
    bodies = encode_bodies(products)
    files = {name: write_bodies(tmp / f"{name}.lines", value) for name, value in bodies.items()}
    files["empty"] = write_bodies(tmp / "empty.lines", [b""])
    script = tmp / "load.lua"
    script.write_text(LUA)
    say("starting the servers …")
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        servers = start_servers(stack, tmp, args.mlflow_workers)
        api, mlflows = servers[0], servers[1:]
        results["servers"] = [(s.name, s.workers) for s in servers]
        with ThreadPoolExecutor(len(servers)) as pool:  # each one's own time to ready
            results["ready"] = list(pool.map(lambda s: wait_ready(s, started), servers))
        results["mem_start"] = [_memory(s) for s in servers]

        agree = 0  # same answers? one product per request, then one batch
        for body, mlflow_body in zip(bodies["api"][:20], bodies["mlflow"][:20], strict=True):
            code = post_json(api, "/predict", body)["code"]
            agree += code == post_json(mlflows[0], "/invocations", mlflow_body)["predictions"][0]
        answered = post_json(api, "/predict/batch", bodies["api_batch"][0])["predictions"]
        batch_mlflow = post_json(mlflows[0], "/invocations", bodies["mlflow_batch"][0])
        same = sum(
            a["code"] == b for a, b in zip(answered, batch_mlflow["predictions"], strict=True)
        )
        results["agree"] = f"{agree}/20 products and {same}/{BATCH_SIZE} in the batch"

        def targets(api_path: str, mlflow_path: str, kind: str, items: int) -> list[Target]:
            api_file = files["empty" if kind == "empty" else f"api{kind}"]
            mlflow_file = files["empty" if kind == "empty" else f"mlflow{kind}"]
            micro = api_path == "/predict"
            return [Target(api, "POST" if items else "GET", api_path, api_file, items, micro)] + [
                Target(m, "POST" if items else "GET", mlflow_path, mlflow_file, items)
                for m in mlflows
            ]

        single = targets("/predict", "/invocations", "", 1)
        batch = targets("/predict/batch", "/invocations", "_batch", BATCH_SIZE)
        floor = targets("/ready", "/ping", "empty", 0)
        say("warm-up …")
        for target in single + batch:
            generate(target, 4, WARMUP_S, script)
        plan = [("c1", single, 1), ("c16", single, 16), ("batch", batch, 1), ("floor", floor, 1)]
        for key, scenario, connections in plan:
            say(f"{key}: {args.seconds:g} s per server …")
            results[key] = interleaved(scenario, connections, args.seconds, script)

        results["mem"] = [_memory(s) for s in servers]
        time.sleep(2.0)  # every worker's inference log flushes every 0.25 s
        metrics = api_metrics(api, "rakuten_api_")
        results["api_answered"] = sum(
            v for k, v in metrics.items() if k.startswith("rakuten_api_predictions_total")
        )
        results["log_failed"] = metrics.get("rakuten_api_inference_log_write_failures_total", 0.0)
        results["api_non_2xx"] = sum(
            v
            for k, v in metrics.items()
            if k.startswith("rakuten_api_requests_total") and 'status="2' not in k
        )
        results["log_rows"], results["log_ids"] = _log_rows(tmp / "bench.db")
    for server in servers:
        problems = log_problems(server.log)
        results[f"problems_{server.name}"] = len(problems)
        for line in problems[:10]:
            say(f"  {server.name} log: {line[:200]}")
    return results


def _memory(server: Server) -> dict[str, Any]:
    per_worker = [memory_mib(pid)["VmRSS"] for pid in server.find_serving()]
    tree = sum(memory_mib(pid)["VmRSS"] for pid in server.tree())
    return {"workers": per_worker, "tree": tree}


def _log_rows(database: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        rows, ids = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT request_id) FROM inference_log"
        ).fetchone()
    return int(rows), int(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=84_916)
    parser.add_argument("--seconds", type=float, default=10.0, help="per server and scenario")
    parser.add_argument(
        "--mlflow-workers", type=int, default=2, help="extra MLflow server's workers (0: none)"
    )
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    worker_arguments(parser, {"prepare": work_prepare})
    args = parser.parse_args()

    if args.worker:
        save_result(args.out, work_prepare(args.tmp, args.rows))
        return
    if not WRK.exists():
        raise SystemExit(f"{WRK} is missing: apt-get install wrk")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers are stopped too
    load_avg = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="bench_serving_") as name:
            results = run(args, Path(name))
    except KeyboardInterrupt:  # the servers and the directory are gone by now
        raise SystemExit("interrupted") from None
    section = report(results, command(args), args.seconds, load_avg)
    publish(section, SECTION, args.write)


if __name__ == "__main__":
    main()
