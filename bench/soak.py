"""Soak benchmark: minutes of mixed traffic on the API, its inference log on PostgreSQL.

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 16] [--batch-clients 2]
                                   [--rows 30000] [--publish]

A worker (``bench/serving.py --worker prepare``, in a fresh interpreter) trains the default
``TrainConfig()`` on the built-in catalogue, registers it in a fresh SQLite MLflow store and makes
it champion. The API then starts as ``make run`` starts it, ``python -m api`` with its default
``RAKUTEN_API_WORKERS``, its inference log going to a fresh PostgreSQL database (127.0.0.1:5432,
user postgres; override with ``RAKUTEN_TEST_PG_URL``) created here and dropped at the end.

Load: two Debian ``wrk`` processes side by side, one thread each (``bench.serving_load``):
``clients - batch_clients`` keep-alive connections sending one product per ``/predict`` and
``batch_clients`` sending ``/predict/batch`` with 20 to 100 products, cycling through 500 holdout
products. The soak runs as back-to-back one-minute segments, so every minute has its own counts,
errors (status >= 400, socket errors, timeouts) and latency percentiles; between two segments the
API's process tree is sampled (RSS; PSS and USS from ``smaps_rollup``) and its ``/metrics`` read.

At the end, once every worker's writer has drained its queue, the rows in PostgreSQL are counted
against the predictions the API counted (``rakuten_api_predictions_total``), and the API's log is
searched for exception and error lines. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.data_lifecycle import postgres_database
from bench.harness import memory_mib, run_worker, say
from bench.markdown import publish
from bench.serving_load import LUA, WRK, Load, Target, generate, write_bodies
from bench.serving_servers import Server, api_metrics, child_env, log_problems, serve, wait_ready
from bench.serving_workers import encode_bodies
from bench.soak_report import SECTION, Minute, Soak, passed, report
from core.settings import usable_cores
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
PREPARE = ROOT / "bench" / "serving.py"  # its `--worker prepare` trains and promotes the model
PREPARE_TIMEOUT_S = 900
SEGMENT_S = 60
BATCH_SIZES = (20, 100)  # products per batch request, drawn uniformly
BATCH_BODIES = 50
DRAIN_STALL_S = 30  # the drain gives up after this long without a row written
SERIES = "rakuten_api_"


def batch_bodies(products: list[dict[str, str]], seed: int = 0) -> tuple[list[bytes], float]:
    """Batch request bodies of 20 to 100 products, and their mean size."""
    rng, start, bodies, sizes = random.Random(seed), 0, [], []
    for _ in range(BATCH_BODIES):
        size = rng.randint(*BATCH_SIZES)
        chunk = [products[(start + k) % len(products)] for k in range(size)]
        start += size
        bodies.append(json.dumps({"products": chunk}).encode())
        sizes.append(size)
    return bodies, sum(sizes) / len(sizes)


def tree_memory(server: Server) -> dict[str, float]:
    """Resident memory of the server's whole process tree, MiB: RSS, PSS and USS summed."""
    total = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    for pid in server.tree():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a process ended meanwhile
            rss = memory_mib(pid)["VmRSS"]
            rollup = _smaps_rollup_kib(pid)
            total["rss"] += rss
            total["pss"] += rollup["Pss"] / 1024
            total["uss"] += (rollup["Private_Clean"] + rollup["Private_Dirty"]) / 1024
    return total


def _smaps_rollup_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def predicted(metrics: dict[str, float]) -> float:
    """Products the API predicted, every worker and class together."""
    return sum(v for k, v in metrics.items() if k.startswith(f"{SERIES}predictions_total"))


def answered(metrics: dict[str, float], endpoint: str, ok: bool = True) -> float:
    """Requests the API answered on ``endpoint`` (``ok``: 2xx; else every other status)."""
    prefix = f'{SERIES}requests_total{{endpoint="{endpoint}"'
    return sum(v for k, v in metrics.items() if k.startswith(prefix) and ('status="2' in k) == ok)


def non_2xx(metrics: dict[str, float]) -> float:
    """Answers of any endpoint with a status other than 2xx."""
    requests = f"{SERIES}requests_total"
    return sum(v for k, v in metrics.items() if k.startswith(requests) and 'status="2' not in k)


def drain(api: Server) -> tuple[dict[str, float], float]:
    """Wait until every worker's inference log has caught up; the last scrape and the wait.

    Caught up: nothing queued in memory and as many rows written as products predicted (rows
    spilled to the spool count once replayed). Gives up when no row was written for a while.
    """
    start = last_progress = time.monotonic()
    written_before = -1.0
    while True:
        metrics = api_metrics(api, SERIES)
        queued = metrics.get(f"{SERIES}inference_log_queue_rows", 0.0)
        written = metrics.get(f"{SERIES}inference_log_rows_written_total", 0.0)
        now = time.monotonic()
        if queued == 0 and written >= predicted(metrics):
            return metrics, now - start
        if written != written_before:
            written_before, last_progress = written, now
        elif now - last_progress > DRAIN_STALL_S:
            return metrics, now - start
        time.sleep(0.25)


def log_rows(url: str) -> dict[str, int]:
    """Rows of the inference log by source (``predict``, ``batch``)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT source, COUNT(*) FROM inference_log GROUP BY source"
            return {source: int(n) for source, n in conn.execute(text(query))}
    finally:
        engine.dispose()


def minute(targets: tuple[Target, Target], clients: tuple[int, int], script: Path) -> list[Load]:
    """One segment: both wrk processes side by side for a minute."""
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(generate, target, n, SEGMENT_S, script)
            for target, n in zip(targets, clients, strict=True)
        ]
        return [run.result() for run in runs]


def run_minutes(
    result: Soak, api: Server, targets: tuple[Target, Target], minutes: int, script: Path
) -> None:
    """The soak itself: one-minute segments back to back, the API sampled after each."""
    before = api_metrics(api, SERIES)
    for index in range(1, minutes + 1):
        single, batch = minute(targets, result.clients, script)
        memory = tree_memory(api)  # before the scrape: /metrics itself allocates
        after = api_metrics(api, SERIES)
        result.minutes.append(
            Minute(
                single=single,
                batch=batch,
                predicted=predicted(after) - predicted(before),
                api_non_2xx=non_2xx(after) - non_2xx(before),
                api_cpu=single.server_cpu,
                memory=memory,
                workers=tuple(sorted(api.find_serving())),
                log_queue=after.get(f"{SERIES}inference_log_queue_rows", 0.0),
                log_spooled=after.get(f"{SERIES}inference_log_spooled_rows_total", 0.0),
            )
        )
        before = after
        say(result.minutes[-1].summary(index))


def final_counts(api: Server) -> tuple[dict[str, float], float]:
    """The API's counters once its inference log has drained, and how long that took."""
    final, waited = drain(api)
    counts = {
        "predicted": predicted(final),
        "single_ok": answered(final, "/predict"),
        "batch_ok": answered(final, "/predict/batch"),
        "non_2xx": non_2xx(final),
        "queue_rows": final.get(f"{SERIES}inference_log_queue_rows", 0.0),
    }
    for name in ("rows_written", "dropped_rows", "spooled_rows", "write_failures"):
        counts[name] = final.get(f"{SERIES}inference_log_{name}_total", 0.0)
    return counts, waited


def soak(args: argparse.Namespace, tmp: Path, db_url: str) -> Soak:
    """Prepare the model, start the API on ``db_url``, run the minutes, count what landed."""
    prepared = run_worker(
        str(PREPARE),
        "prepare",
        ["--rows", str(args.rows)],
        tmp=tmp,
        env=child_env(tmp),
        timeout=PREPARE_TIMEOUT_S,
    )
    products = json.loads((tmp / "products.json").read_text())
    batches, mean_batch = batch_bodies(products)
    singles = write_bodies(tmp / "single.lines", encode_bodies(products)["api"])
    script = tmp / "load.lua"
    script.write_text(LUA)
    workers = usable_cores()  # what RAKUTEN_API_WORKERS defaults to, as `make run` leaves it
    port = free_port()
    command = [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)]
    env = {  # cwd is tmp (no .env): the repository goes on the path as `make run`'s cwd would
        "PYTHONPATH": str(ROOT),
        "RAKUTEN_API_URL": f"http://127.0.0.1:{port}",
        "RAKUTEN_DATABASE_URL": db_url,
    }
    say(f"starting the API ({workers} workers), inference log on PostgreSQL …")
    with serve("API", command, tmp, "/ready", workers, **env) as api:
        ready_s = wait_ready(api)
        batch_lines = write_bodies(tmp / "batch.lines", batches)
        targets = (
            Target(api, "POST", "/predict", singles, 1),
            Target(api, "POST", "/predict/batch", batch_lines, round(mean_batch)),
        )
        clients = (args.clients - args.batch_clients, args.batch_clients)
        result = Soak(
            command=_command(args),
            load_start=args.load_start,
            prepared=prepared,
            workers=workers,
            ready_s=ready_s,
            clients=clients,
            mean_batch=mean_batch,
            memory_start=tree_memory(api),
            niceness=os.nice(0),
        )
        run_minutes(result, api, targets, args.minutes, script)
        say("waiting for the inference log to drain …")
        result.api, result.drain_s = final_counts(api)
        result.log_rows = log_rows(db_url)
    result.problems = log_problems(api.log)
    result.load_end = os.getloadavg()[0]
    return result


def _command(args: argparse.Namespace) -> str:
    line = f".venv/bin/python -m bench.soak --minutes {args.minutes} --clients {args.clients}"
    if args.batch_clients != 2:
        line += f" --batch-clients {args.batch_clients}"
    if args.rows != 30_000:
        line += f" --rows {args.rows}"
    return line + (" --publish" if args.publish else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=10, help="one-minute segments to run")
    parser.add_argument("--clients", type=int, default=16, help="connections in all")
    parser.add_argument("--batch-clients", type=int, default=2, help="of which send batches")
    parser.add_argument("--rows", type=int, default=30_000, help="catalogue rows to train on")
    parser.add_argument("--publish", action="store_true", help="write docs/BENCHMARKS.md's section")
    args = parser.parse_args()
    if not 0 < args.batch_clients < args.clients or args.minutes < 1:
        parser.error("need --minutes >= 1 and 0 < --batch-clients < --clients")
    if not WRK.exists():
        raise SystemExit(f"{WRK} is missing: apt-get install wrk")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the API and database go too
    args.load_start = os.getloadavg()[0]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench_soak_") as name,
            postgres_database() as db_url,
        ):
            result = soak(args, Path(name), db_url)
    except KeyboardInterrupt:  # the API, the database and the directory are gone by now
        raise SystemExit("interrupted") from None
    for line in result.problems[:10]:
        say(f"  API log: {line[:200]}")
    publish(report(result), SECTION, ROOT / "docs" / "BENCHMARKS.md" if args.publish else None)
    if not passed(result):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
