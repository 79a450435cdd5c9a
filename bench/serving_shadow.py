"""Shadow benchmark: what scoring the challenger off the request path costs the champion's answers.

    .venv/bin/python bench/serving_shadow.py [--rows N] [--seconds S] [--write docs/BENCHMARKS.md]

A worker subprocess trains two versions on the built-in catalogue (the default ``TrainConfig()``
as version 1, promoted to champion; the same recipe with ``c=0.5`` as version 2, which
registering makes ``@challenger``) in a fresh SQLite MLflow store. Two APIs then serve that
registry side by side, each ``python -m api`` with its default workers and its own database and
runtime folder: one with ``RAKUTEN_SHADOW_SHARE=0`` (no shadow), one with ``1`` (every request
also scored by the challenger, in a background thread of each worker). Debian's ``wrk`` sends the
same bodies to both in A-B-B-A slots: one product per request at concurrency 1 and 16, and
batches of 100. After each slot on the shadow API the run waits for its shadow queue to empty, so
that catching up never lands in the other API's slot; how long that took is reported.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import run_worker, save_result, say, worker_arguments  # noqa: E402
from bench.markdown import publish, run_line  # noqa: E402
from bench.serving_load import LUA, WRK, Load, Target, generate, write_bodies  # noqa: E402
from bench.serving_servers import (  # noqa: E402  # noqa: E402
    Server,
    api_metrics,
    child_env,
    log_problems,
    post_json,
    serve,
    wait_ready,
)
from bench.serving_workers import BATCH_SIZE, encode_bodies, work_prepare  # noqa: E402
from tests.ports import free_port  # noqa: E402

SECTION = "Shadow serving"
WORKER_TIMEOUT_S = 900
DRAIN_TIMEOUT_S = 120.0
SHADOW = "rakuten_api_shadow_"


def work_two_versions(tmp: Path, rows: int) -> dict[str, Any]:
    """Version 1 (champion) as the serving benchmark trains it, then version 2 (challenger)."""
    from core.access import Actor
    from core.adapters.model_store import MlflowModelStore
    from core.data.queries import TrainingData
    from core.data.store import catalogue_digest, split_holdout
    from core.data.synthetic import generate_catalogue
    from core.evaluate import evaluate
    from core.train import TrainConfig, fit

    prepared = work_prepare(tmp, rows)
    split = split_holdout(generate_catalogue(rows, seed=42), 0.15, 42)
    products, holdout = split.pool, split.holdout
    data = TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )
    config = TrainConfig(c=0.5)
    result = fit(config, products)
    evaluation = evaluate(result.pipeline, holdout)
    store = MlflowModelStore(f"sqlite:///{tmp / 'mlflow.db'}")
    logged = store.log_run(
        config, result, evaluation, data, run_name="bench shadow", actor=Actor.os_user()
    )
    return {
        **prepared,
        "challenger": store.register(logged),
        "challenger_f1": evaluation.weighted_f1,
    }


def start_api(stack: contextlib.ExitStack, tmp: Path, name: str, share: str) -> Server:
    """``python -m api`` with its default workers, its own database and runtime folder."""
    port = free_port()
    own = tmp / name
    own.mkdir()
    env = {
        "PYTHONPATH": str(ROOT),
        "RAKUTEN_API_URL": f"http://127.0.0.1:{port}",
        "RAKUTEN_DATABASE_URL": f"sqlite:///{own / 'api.db'}",
        "RAKUTEN_VAR_DIR": str(own / "var"),
        "RAKUTEN_SHADOW_SHARE": share,
    }
    command = [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)]
    workers = len(os.sched_getaffinity(0))
    return stack.enter_context(serve(name, command, tmp, "/ready", workers, **env))


def shadow_ready(server: Server, version: int, timeout: float = 120.0) -> None:
    """Wait until the API reports the challenger in shadow (its workers load it after ready)."""
    deadline = time.monotonic() + timeout
    while api_metrics(server, f"{SHADOW}version").get(f"{SHADOW}version") != version:
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name}: the challenger v{version} never went into shadow")
        time.sleep(0.5)


def drain(server: Server) -> float:
    """Seconds until the shadow queue of every worker is empty."""
    start = time.monotonic()
    while api_metrics(server, f"{SHADOW}queue_rows").get(f"{SHADOW}queue_rows", 0.0) > 0:
        if time.monotonic() - start > DRAIN_TIMEOUT_S:
            break
        time.sleep(0.1)
    return time.monotonic() - start


def scenario(
    off: Target, on: Target, connections: int, seconds: float, script: Path
) -> tuple[Load, Load, list[float]]:
    """A-B-B-A slots of ``seconds / 2``; after each shadow slot, wait for its queue to empty."""
    loads, drains = {"off": Load(), "on": Load()}, []
    for key, target in (("off", off), ("on", on), ("on", on), ("off", off)):
        load = generate(target, connections, seconds / 2, script)
        loads[key].merge(load)
        say(f"  shadow {key:3} {target.path:15} c{connections:<2} p50 {load.pct_ms(50):6.2f} ms")
        if key == "on":
            drains.append(drain(on.server))
    return loads["off"], loads["on"], drains


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "prepare": run_worker(
            __file__,
            "prepare",
            ["--rows", str(args.rows)],
            tmp=tmp,
            env=child_env(tmp),
            timeout=WORKER_TIMEOUT_S,
        )
    }
    bodies = encode_bodies(json.loads((tmp / "products.json").read_text()))
    single = write_bodies(tmp / "single.lines", bodies["api"])
    batch = write_bodies(tmp / "batch.lines", bodies["api_batch"])
    script = tmp / "load.lua"
    script.write_text(LUA)
    with contextlib.ExitStack() as stack:
        off = start_api(stack, tmp, "API, shadow off", "0")
        on = start_api(stack, tmp, "API, shadow on", "1")
        for server in (off, on):
            wait_ready(server)
        shadow_ready(on, results["prepare"]["challenger"])
        same = sum(
            json.dumps(_answer(post_json(off, "/predict", body)))
            == json.dumps(_answer(post_json(on, "/predict", body)))
            for body in bodies["api"][:50]
        )
        results["identical"] = same
        for server in (off, on):
            for path, lines in (("/predict", single), ("/predict/batch", batch)):
                generate(Target(server, "POST", path, lines, 1), 4, 2.0, script)  # warm-up
        drain(on)
        plan = [
            ("c1", "/predict", single, 1, 1),
            ("c16", "/predict", single, 16, 1),
            ("batch", "/predict/batch", batch, 1, BATCH_SIZE),
        ]
        for key, path, lines, connections, items in plan:
            say(f"{key}: {args.seconds:g} s per API …")
            off_target, on_target = (
                Target(s, "POST", path, lines, items, path == "/predict") for s in (off, on)
            )
            results[key] = scenario(off_target, on_target, connections, args.seconds, script)
        time.sleep(2.0)  # the last writes of both logs
        metrics = api_metrics(on, SHADOW, "rakuten_api_predictions_total")
        results["shadow_metrics"] = metrics
        results["rows"] = {s.name: _rows(tmp / s.name / "api.db") for s in (off, on)}
    results["problems"] = {s.name: log_problems(s.log)[:5] for s in (off, on)}
    return results


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs between any two requests (its id, its latency)."""
    return {k: v for k, v in body.items() if k not in ("request_id", "latency_ms")}


def _rows(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        log = conn.execute("SELECT COUNT(*) FROM inference_log").fetchone()[0]
        shadow = conn.execute("SELECT COUNT(*) FROM shadow_predictions").fetchone()[0]
        paired = conn.execute(
            "SELECT COUNT(*) FROM inference_log i JOIN shadow_predictions s USING (request_id)"
        ).fetchone()[0]
    return {"log": int(log), "shadow": int(shadow), "paired": int(paired)}


def report(results: dict[str, Any], command: str, load_avg: float) -> str:
    """The section of docs/BENCHMARKS.md."""
    prep = results["prepare"]
    lines = [
        f"## {SECTION}",
        "",
        f"Command: `{command}`",
        run_line(load_avg)
        + f". Models: v1 (champion) weighted F1 {prep['weighted_f1']:.4f} and v{prep['challenger']}"
        f" (challenger, C=0.5) {prep['challenger_f1']:.4f}, fitted on {prep['train_rows']:,} rows."
        " Two APIs with their default workers serve them side by side; wrk sends the same bodies"
        " to both in A-B-B-A slots. Ratios: shadow on over shadow off.",
        "",
        "| measure | goal | shadow off | shadow on (share 1) | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    names = {"c1": "one product, concurrency 1", "c16": "one product, concurrency 16"}
    names["batch"] = f"batch of {BATCH_SIZE}, concurrency 1"
    for key in ("c1", "c16", "batch"):
        off, on, drains = results[key]
        for q in (50, 99):
            a, b = off.pct_ms(q), on.pct_ms(q)
            goal = "≤ 1.10×" if key == "c1" else ""
            lines.append(
                f"| {names[key]}, p{q} latency | {goal} | {a:.2f} ms | {b:.2f} ms | {b / a:.2f}× |"
            )
        unit = "products/s" if key == "batch" else "req/s"
        a, b = off.item_rate, on.item_rate
        goal = "≥ 0.90×" if key == "c1" else ""
        lines.append(
            f"| {names[key]}, throughput | {goal} | {a:,.0f} {unit} | {b:,.0f} {unit} "
            f"| {b / a:.2f}× |"
        )
        lines.append(f"| {names[key]}, failed requests | 0 | {off.failed} | {on.failed} | |")
        lines.append(
            f"| {names[key]}: the challenger caught up after each slot in | | | "
            f"{', '.join(f'{d:.1f} s' for d in drains)} | |"
        )
    metrics = results["shadow_metrics"]
    scored = sum(v for k, v in metrics.items() if k.startswith(f"{SHADOW}predictions_total"))
    agree = sum(v for k, v in metrics.items() if 'agreement="agree"' in k)
    dropped = {
        k.split('reason="')[1].rstrip('"}'): v
        for k, v in metrics.items()
        if k.startswith(f"{SHADOW}dropped_total") and v
    }
    rows = results["rows"]["API, shadow on"]
    lines += [
        "",
        f"Answers: {results['identical']}/50 products answered byte-identically by both APIs "
        "(request id and latency aside). The shadow API's challenger scored "
        f"{scored:,.0f} requests ({agree / scored:.1%} agreeing with the champion); "
        f"dropped: {', '.join(f'{k} {v:,.0f}' for k, v in dropped.items()) or 'none'}. "
        f"Its database holds {rows['log']:,} inference-log rows and {rows['shadow']:,} shadow "
        f"rows, {rows['paired']:,} of them beside their request's row.",
    ]
    problems = {k: v for k, v in results["problems"].items() if v}
    if problems:
        lines.append(f"Error lines in the logs: {problems}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per API and scenario")
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    worker_arguments(parser, {"prepare": work_two_versions})
    args = parser.parse_args()
    if args.worker:
        save_result(args.out, work_two_versions(args.tmp, args.rows))
        return
    if not WRK.exists():
        raise SystemExit(f"{WRK} is missing: apt-get install wrk")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_avg = os.getloadavg()[0]
    command = (
        f".venv/bin/python bench/serving_shadow.py --rows {args.rows} --seconds {args.seconds:g}"
    )
    command += f" --write {args.write}" if args.write else ""
    with tempfile.TemporaryDirectory(prefix="bench_shadow_") as name:
        results = run(args, Path(name))
    publish(report(results, command, load_avg), SECTION, args.write)


if __name__ == "__main__":
    main()
