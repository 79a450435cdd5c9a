"""Train-flow benchmark: the project's Prefect train flow against the plain TF-IDF baseline.

    .venv/bin/python bench/train_flow.py [--rows N] [--write docs/BENCHMARKS.md]

The built-in catalogue (84,916 rows by default) is imported into a fresh SQLite database in a
temporary directory and loaded to 100 %, next to a fresh MLflow server (SQLite backend). Then, each
in its own subprocess so that peak memory (``ru_maxrss``) is that candidate's own:

1. the real ``core.flows.train.train_flow`` with the default ``TrainConfig()`` (snapshot → fit →
   evaluate → log to MLflow → register → promote) under ``prefect_test_harness()``; the harness
   start-up is timed apart from the flow. The process first imports ``core.flows.preload``, as
   the worker's fork server does once for all its runs (each run is a fork of it). Stage times
   are those of the same run: each task's function is wrapped in a timer, nothing else changes;
2. the original project's plain baseline, ``TfidfVectorizer()`` + ``LogisticRegression()`` with
   all defaults, on the raw ``designation + " " + description`` of the same loaded products,
   scored on the same holdout.

The parent process imports nothing heavy: on Linux a child's ``ru_maxrss`` starts at its parent's
peak (it survives ``exec``), so a fat parent would inflate every child's number.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    accumulate_time,
    isolated_env,
    memory_mib,
    peak_rss_mib,
    process_group,
    run_worker,
    save_result,
    wait_http,
    worker_arguments,
)
from bench.markdown import check, publish, run_line  # noqa: E402
from tests.ports import free_port  # noqa: E402

SECTION = "## Train flow"
GOALS = {"flow_s": 90.0, "outside_share": 0.15}
FLOW_STAGES = (
    ("snapshot_task", "snapshot (read loaded products + holdout)"),
    ("fit_task", "fit"),
    ("evaluate_task", "evaluate on the holdout"),
    ("log_task", "log to MLflow (params, metrics, artifacts, model)"),
    ("register_task", "register and promote"),
)
WORKER_TIMEOUT_S = 1_200


# --- workers (run in subprocesses) ---------------------------------------------------------------


def work_prepare(tmp: Path, rows: int) -> dict[str, Any]:
    """Generate, import and load the catalogue to 100 %; create the MLflow store's schema."""
    from bench.harness import BENCH_ACTOR
    from core.adapters.model_store import model_store
    from core.data.loading import FULL_BP, initialize
    from core.data.store import import_products
    from core.data.synthetic import generate_catalogue
    from core.db.engine import ensure_schema, make_engine
    from core.settings import get_settings

    settings = get_settings()
    start = time.perf_counter()
    frame = generate_catalogue(rows, seed=settings.seed)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    imported = import_products(
        engine,
        frame,
        source="bench",
        holdout_fraction=settings.holdout_fraction,
        seed=settings.seed,
        actor=BENCH_ACTOR,
    )
    loaded = initialize(engine, FULL_BP, BENCH_ACTOR)
    engine.dispose()
    data_s = time.perf_counter() - start
    # A new SQLite tracking store runs MLflow's schema migrations on first use: a one-time cost
    # that a running tracking server never pays per training run, so it is paid here.
    start = time.perf_counter()
    model_store(settings.mlflow_tracking_uri, "flow").runs(limit=1)
    return {
        "catalogue_rows": len(frame),
        "pool_rows": imported.pool_rows,
        "holdout_rows": imported.holdout_rows,
        "loaded_rows": loaded.cumulative_rows,
        "loaded_bp": loaded.target_bp,
        "data_s": data_s,
        "mlflow_store_s": time.perf_counter() - start,
    }


def work_flow(tmp: Path, rows: int) -> dict[str, Any]:
    """The real train flow with the default config, one run, stage times from the same run."""
    start = time.perf_counter()
    import mlflow.sklearn
    import mlflow.utils.environment
    from prefect.testing.utilities import prefect_test_harness

    import core.flows.preload  # noqa: F401  # what every worker run finds already done
    from core.flows import train as train_module
    from core.train import TrainConfig

    import_s = time.perf_counter() - start
    stages: dict[str, float] = {}
    for attr, _ in FLOW_STAGES:
        task = getattr(train_module, attr)
        task.fn = accumulate_time(task.fn, stages, attr)
    # Measurement only, each name where the flow's code looks it up: inside "log to MLflow", the
    # process's first store access, the model, MLflow's check of the installed package versions
    # against the model's requirements, the metrics and the evaluation files; outside the tasks,
    # engine + schema check.
    for owner, attr in (
        (mlflow, "set_experiment"),
        (mlflow.sklearn, "log_model"),
        (mlflow.utils.environment, "warn_dependency_requirement_mismatches"),
        (mlflow, "log_metrics"),
        (mlflow, "log_artifacts"),
        (train_module, "make_engine"),
        (train_module, "ensure_schema"),
    ):
        setattr(owner, attr, accumulate_time(getattr(owner, attr), stages, attr))
    rss_before_mib = memory_mib()["VmRSS"]

    start = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        harness_s = time.perf_counter() - start
        start = time.perf_counter()
        summary = train_module.train_flow(TrainConfig(), auto_promote=True)
        flow_s = time.perf_counter() - start
    return {
        "import_s": import_s,
        "harness_s": harness_s,
        "flow_s": flow_s,
        "stages": stages,
        "summary": summary,
        "rss_before_mib": rss_before_mib,
        "peak_mib": peak_rss_mib(),
    }


def work_baseline(tmp: Path, rows: int) -> dict[str, Any]:
    """TfidfVectorizer() + LogisticRegression(), all defaults, raw text, same rows and holdout."""
    import warnings

    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    from core.data.queries import training_data
    from core.db.engine import make_engine
    from core.settings import get_settings

    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        data = training_data(conn)
    engine.dispose()

    def raw_text(frame: pd.DataFrame) -> list[str]:
        return (frame["designation"].fillna("") + " " + frame["description"].fillna("")).tolist()

    rss_before_mib = memory_mib()["VmRSS"]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(raw_text(data.products), data.products["prdtypecode"].to_numpy())
        fit_s = time.perf_counter() - start
        predicted = model.predict(raw_text(data.holdout))
        wall_s = time.perf_counter() - start
    classifier = model[-1]
    return {
        "fit_s": fit_s,
        "wall_s": wall_s,
        "weighted_f1": float(
            f1_score(data.holdout["prdtypecode"], predicted, average="weighted", zero_division=0)
        ),
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "n_iter": int(classifier.n_iter_.max()),
        "max_iter": classifier.max_iter,
        "vocabulary": len(model[0].vocabulary_),
        "train_rows": len(data.products),
        "holdout_rows": len(data.holdout),
        "rss_before_mib": rss_before_mib,
        "peak_mib": peak_rss_mib(),
    }


WORKERS: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "prepare": work_prepare,
    "flow": work_flow,
    "baseline": work_baseline,
}


# --- parent --------------------------------------------------------------------------------------


def child_env(tmp: Path, tracking_uri: str | None = None) -> dict[str, str]:
    """This run's stores only, nothing from the caller's settings."""
    return isolated_env(
        "RAKUTEN_",
        "PREFECT_",
        "MLFLOW_",
        RAKUTEN_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        RAKUTEN_MLFLOW_TRACKING_URI=tracking_uri or f"sqlite:///{tmp / 'mlflow.db'}",
        RAKUTEN_VAR_DIR=str(tmp / "var"),
        PREFECT_HOME=str(tmp / "prefect"),
        MLFLOW_DISABLE_TELEMETRY="true",
    )


def worker(kind: str, tmp: Path, rows: int, tracking_uri: str | None = None) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (cwd = tmp: MLflow's ./mlruns, no .env)."""
    return run_worker(
        __file__,
        kind,
        ["--rows", str(rows)],
        tmp=tmp,
        env=child_env(tmp, tracking_uri),
        timeout=WORKER_TIMEOUT_S,
    )


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[str]:
    """An MLflow tracking server on a free loopback port over the prepared SQLite store."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination",
        str(tmp / "artifacts"),
        "--workers",
        "1",
    ]
    log = tmp / "mlflow-server.log"
    with process_group(command, cwd=tmp, env=child_env(tmp), log=log, stop_timeout=30) as server:
        url = f"http://127.0.0.1:{port}"
        wait_http("MLflow server", f"{url}/health", server, log, timeout=120)
        yield url


def report(prep: dict, flow: dict, base: dict, rows: int, load: float) -> str:
    summary, stages = flow["summary"], flow["stages"]
    flow_s, fit_s = flow["flow_s"], summary["fit_seconds"]
    outside_s = flow_s - fit_s
    base_outside = base["wall_s"] - base["fit_s"]
    share, base_share = outside_s / flow_s, base_outside / base["wall_s"]
    f1, base_f1 = summary["weighted_f1"], base["weighted_f1"]
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/train_flow.py --rows {rows} --write docs/BENCHMARKS.md`",
        f"{run_line(load)}. {prep['catalogue_rows']:,}-row catalogue in a fresh SQLite "
        f"database, loaded to 100 %: {summary['data_rows']:,} training rows, "
        f"{prep['holdout_rows']:,} holdout rows; fresh "
        "MLflow tracking server (SQLite backend) that the flow logs to over HTTP, as in local "
        "mode. One run of each candidate, each in its own subprocess.",
        "",
        "| measure | goal | project train flow, default `TrainConfig()` | plain baseline, "
        "`TfidfVectorizer()` + `LogisticRegression()` | project / baseline |",
        "| --- | --- | --- | --- | --- |",
        f"| **wall time** (whole `train_flow(...)` call / fit + predict) | flow < "
        f"{GOALS['flow_s']:g} s | {flow_s:.1f} s {check(flow_s < GOALS['flow_s'])} | "
        f"{base['wall_s']:.1f} s | {flow_s / base['wall_s']:.2f}× |",
        f"| fit time | | {fit_s:.1f} s | {base['fit_s']:.1f} s | {fit_s / base['fit_s']:.2f}× |",
        f"| time outside fitting (wall − fit), share of wall | < "
        f"{100 * GOALS['outside_share']:.0f} % | {outside_s:.1f} s = {100 * share:.1f} % "
        f"{check(share < GOALS['outside_share'])} | {base_outside:.1f} s = "
        f"{100 * base_share:.1f} % (predict) | {outside_s / base_outside:.1f}× |",
        f"| peak memory (`ru_maxrss`) | | {flow['peak_mib']:,.0f} MiB | "
        f"{base['peak_mib']:,.0f} MiB | {flow['peak_mib'] / base['peak_mib']:.2f}× |",
        f"| **holdout weighted F1** | project ≥ baseline | {f1:.4f} {check(f1 >= base_f1)} | "
        f"{base_f1:.4f} | {f1 / base_f1:.3f}× |",
        "",
        "Where the flow's time goes (same run; each task's function timed, so the last line is "
        "Prefect's orchestration, the engine and the schema check):",
        "",
        "| flow stage | time | share of the flow |",
        "| --- | --- | --- |",
    ]
    log_parts = [
        (
            "… of which `mlflow.set_experiment` (the process's first MLflow call: opens the store)",
            stages["set_experiment"],
        ),
        ("… of which `mlflow.sklearn.log_model`", stages["log_model"]),
        (
            "… … of which, inside `log_model`, the check of installed package versions against the "
            "model's requirements",
            stages["warn_dependency_requirement_mismatches"],
        ),
        (
            "… of which the metrics, after the model and linked to it (one call)",
            stages["log_metrics"],
        ),
        (
            "… of which the report, confusion matrix and per-class JSON (one call, no figure)",
            stages["log_artifacts"],
        ),
    ]
    engine_s = stages["make_engine"] + stages["ensure_schema"]
    sub_rows = {"fit_task": [("… of which `pipeline.fit`", fit_s)], "log_task": log_parts}

    def row(label: str, seconds: float) -> str:
        return f"| {label} | {seconds:.2f} s | {100 * seconds / flow_s:.1f} % |"

    for attr, label in FLOW_STAGES:
        lines.append(row(label, stages[attr]))
        lines += [row(sub, seconds) for sub, seconds in sub_rows.get(attr, [])]
    outside_tasks = flow_s - sum(stages[attr] for attr, _ in FLOW_STAGES)
    prefect_s = outside_tasks - engine_s
    lines += [
        row("outside the tasks", outside_tasks),
        row("… of which engine + schema check", engine_s),
        f"| **flow total** | {flow_s:.2f} s | 100 % |",
        "",
        f"Time outside fitting, {outside_s:.1f} s: logging to MLflow {stages['log_task']:.1f} s, "
        f"Prefect's own work outside the tasks {prefect_s:.1f} s (creating the flow and task runs "
        "and reporting their states to the server over HTTP), snapshot + evaluate + register "
        f"{stages['snapshot_task'] + stages['evaluate_task'] + stages['register_task']:.1f} s, "
        f"engine + schema check {engine_s:.1f} s.",
        f"Memory: {flow['rss_before_mib']:,.0f} MiB of the flow's peak is resident before it "
        "starts (Prefect, MLflow, scikit-learn, pandas imported); the baseline process holds "
        f"{base['rss_before_mib']:,.0f} MiB before fitting (scikit-learn, pandas, the data).",
        f"Baseline: a vocabulary of {base['vocabulary']:,} raw unigrams; lbfgs "
        + (
            f"converged in {base['n_iter']} iterations."
            if base["converged"]
            else f"stopped at `max_iter={base['max_iter']}` with a `ConvergenceWarning` (the "
            "defaults are kept on purpose: that is the plain baseline)."
        ),
        "",
        f"Not in the flow's time (one-time costs): Prefect test-harness start-up "
        f"{flow['harness_s']:.1f} s, importing the flow module and the worker's preload "
        f"(`core.flows.preload`: what each worker run, a fork, finds done) "
        f"{flow['import_s']:.1f} s, creating "
        f"the MLflow store's schema {prep['mlflow_store_s']:.1f} s, generate + import + load to "
        f"100 % {prep['data_s']:.1f} s. The flow registered model version {summary['version']} "
        f"(promoted: {summary['promoted']}, {summary['gate']}).",
        "",
    ]
    return "\n".join(lines) + "\n"  # a blank line before the next section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=84_916)
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    worker_arguments(parser, WORKERS)
    args = parser.parse_args()

    if args.worker:
        save_result(args.out, WORKERS[args.worker](args.tmp, args.rows))
        return

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_train_flow_") as name:
        tmp = Path(name)
        prep = worker("prepare", tmp, args.rows)
        # As in local mode, the flow logs to an MLflow server over HTTP (the server's start-up,
        # like the store's schema, is not part of a training run).
        with mlflow_server(tmp) as tracking_uri:
            flow = worker("flow", tmp, args.rows, tracking_uri)
        base = worker("baseline", tmp, args.rows)
    publish(report(prep, flow, base, args.rows, load), SECTION, args.write)


if __name__ == "__main__":
    main()
