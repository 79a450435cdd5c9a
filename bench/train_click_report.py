"""The timeline and the Markdown section of ``bench/train_click_timeline.py``.

One row per step of a click's path, from the click on Train to the page's poll that sees the run
finished; the steps on the path follow one another (their seconds add up to the total), the
"… of which" rows split a step, from the probe's timings of the calls inside it.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import pairwise
from typing import Any

from bench.markdown import check, run_line

FINISHED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
TASKS = {
    "snapshot": "snapshot",
    "fit": "fit_task",
    "evaluate": "evaluate",
    "log to MLflow": "log",
    "register and promote": "register",
}
WORKER_STARTS = ("_starter_engine.run_process", "_starter_direct.run_flow_in_subprocess")
IMPORTED = ("prefect", "mlflow", "sklearn", "pandas", "matplotlib", "core.flows.train")
# key → (depth, label). Depth 0: a step on the path; 1, 2: what part of the step above it is.
ROWS: dict[str, tuple[int, str]] = {
    "trigger": (
        0,
        "click → flow run created (`PrefectManager.trigger`: find the deployment, "
        "create the run, audit row)",
    ),
    "poll": (0, "waiting for the worker's next poll (Scheduled → Pending)"),
    "handoff": (0, "worker hands the run to a new process (Pending → process started)"),
    "submit": (1, "the worker's own steps until it starts the process (Submitting state)"),
    "spawn": (1, "starting the process (`python -m prefect.engine`)"),
    "imports": (0, "new process: Python start-up, imports, reading the run, loading the flow"),
    "python": (1, "Python start-up (interpreter, site)"),
    **{f"import {m}": (1, f"`import {m}` (imports nest: counted in each)") for m in IMPORTED},
    "load_flow_run": (1, "reading the flow run from the API (`load_flow_run`)"),
    "load_flow": (1, "loading the flow (`load_flow`: imports the project, MLflow, scikit-learn)"),
    "engine": (0, "Prefect's engine in the new process until the run is Running"),
    "setup": (
        0,
        "flow set-up before the first task (settings, model store, engine, schema check, audit)",
    ),
    "ensure_schema": (1, "schema check (`ensure_schema`)"),
    "snapshot": (0, "task: snapshot (read the loaded products and the holdout)"),
    "fit_task": (0, "task: fit"),
    "fit": (1, "`pipeline.fit` (the run's `fit_seconds`)"),
    "evaluate": (0, "task: evaluate on the holdout"),
    "log": (0, "task: log to MLflow"),
    "set_experiment": (1, "`mlflow.set_experiment` (+ looking the experiment up)"),
    "start_run": (1, "`mlflow.start_run`"),
    "tags_params_metrics": (1, "tags, params, metrics (3 calls)"),
    "text_json": (1, "classification report + confusion and per-class JSON (3 uploads)"),
    "figure": (1, "static confusion figure: draw it, render the PNG, upload it"),
    "signature": (1, "`infer_signature` (predicts 5 rows)"),
    "log_model": (1, "`mlflow.sklearn.log_model`"),
    "save_model": (
        2,
        "save the model locally (pickle, MLmodel, requirements files, package check)",
    ),
    "validate": (2, "validate the serving input example (reload the model, predict)"),
    "model_artifacts": (2, "upload the model's files (`log_model_artifacts`, one upload each)"),
    "logged_model": (
        2,
        "the rest: logged-model records (create it, link it to the run, re-read "
        "every metric already on the run, one request each)",
    ),
    "dep_check": (
        2,
        "(of the above, MLflow's installed-package check: at the save and the reload)",
    ),
    "log_rest": (1, "the rest (ending the MLflow run, the task's own records)"),
    "register": (0, "task: register and promote"),
    "mv_register": (1, "register the version, alias it challenger"),
    "promote": (1, "`promote_and_serve` (gate, alias champion, ask the API to reload)"),
    "gate": (2, "the gate and the champion alias (`promotion.promote`)"),
    "reload": (2, "the API reloads the champion (`HttpPredictor.reload`, waited for)"),
    "between": (0, "between the tasks (Prefect's task-run records and state reports)"),
    "teardown": (0, "after the last task until Completed (audit row, dispose, propose Completed)"),
    "page": (0, "Completed → the page's next poll sees it (every 2 s)"),
}
# What a run costs outside the fit, one entry per separable cost (for the ranking).
LEAVES = tuple(
    "trigger poll handoff imports engine setup snapshot evaluate set_experiment start_run "
    "tags_params_metrics text_json figure signature save_model validate model_artifacts "
    "logged_model log_rest mv_register gate reload between teardown page".split()
)
LOG_PARTS = ("set_experiment", "start_run", "tags_params_metrics", "text_json", "figure")
LOG_PARTS += ("signature", "log_model")


def _at(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


M = "mlflow."
# Row → the probe's events (calls in the flow-run process) whose seconds it adds up.
PROBED: dict[str, tuple[str, ...]] = {
    "load_flow_run": ("prefect.flow_engine.load_flow_run",),
    "load_flow": ("prefect.flow_engine.load_flow",),
    **{f"import {m}": (f"import {m}",) for m in IMPORTED},
    "ensure_schema": ("core.db.engine.ensure_schema",),
    "set_experiment": (M + "set_experiment",),
    "start_run": (M + "start_run",),
    "tags_params_metrics": (M + "set_tags", M + "log_params", M + "log_metrics"),
    "text_json": (M + "log_text", M + "log_dict"),
    "figure": ("core.tracking.confusion_figure", M + "log_figure"),
    "signature": ("core.tracking.infer_signature",),
    "log_model": (M + "sklearn.log_model",),
    "save_model": (M + "sklearn.save_model",),
    "dep_check": (M + "utils.requirements_utils.warn_dependency_requirement_mismatches",),
    "validate": (M + "models.utils._validate_serving_input",),
    "model_artifacts": (M + "tracking.client.MlflowClient.log_model_artifacts",),
    "mv_register": ("core.adapters.model_store.MlflowModelStore.register",),
    "promote": ("core.usecases.promotion.promote_and_serve",),
    "gate": ("core.promotion.promote",),
    "reload": ("core.adapters.predictor.HttpPredictor.reload",),
}


def _probe_sums(events: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Wall and CPU seconds of one process's timed calls, by row of :data:`PROBED`."""
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    for event in events:
        if event["end"] is not None:
            wall[event["event"]] += event["end"] - event["start"]
            cpu[event["event"]] += event["cpu1"] - event["cpu0"]
    present = {e["event"] for e in events}
    rows = {k: names for k, names in PROBED.items() if any(n in present for n in names)}
    return (
        {k: sum(wall[n] for n in names) for k, names in rows.items()},
        {k: sum(cpu[n] for n in names) for k, names in rows.items()},
    )


def timeline(
    followed: dict[str, Any],
    records: dict[str, Any],
    events: list[dict[str, Any]],
    fit_s: float | None,
    exited: float | None,
) -> dict[str, Any]:
    """Seconds per row of :data:`ROWS` for one run (with the flow-run process's CPU seconds
    where the probe timed it), its totals and when its process exited."""
    click = followed["click"]
    states = sorted(records["states"], key=lambda s: _at(s["timestamp"]))
    pending, running = (
        next(_at(s["timestamp"]) for s in states if s["type"] == kind)
        for kind in ("PENDING", "RUNNING")
    )
    done = next(_at(s["timestamp"]) for s in states if s["type"] in FINISHED)
    tasks = sorted(records["task_runs"], key=lambda t: _at(t["start_time"]))
    window = [e for e in events if click - 1 <= e["start"] <= followed["seen"] + 5]
    child = next(e["pid"] for e in window if e["event"] == "core.train.fit")
    mine = [e for e in window if e["pid"] == child]
    first = {e["event"]: e for e in reversed(mine)}
    # The worker's call that starts the process: its start is when the worker starts it.
    started = next(e["start"] for e in window if e["event"].endswith(WORKER_STARTS))
    s, cpu = _probe_sums(mine)
    loaded = first.get("prefect.flow_engine.load_flow") or max(
        (e for e in mine if e["event"].startswith("import ")), key=lambda e: e["end"]
    )
    fit = next(e for e in mine if e["event"] == "core.train.fit")
    s |= {
        "trigger": followed["created"] - click,
        "poll": pending - followed["created"],
        "handoff": first["process"]["start"] - pending,
        "submit": started - pending,
        "spawn": first["process"]["start"] - started,
        "imports": loaded["end"] - first["process"]["start"],
        "python": first["sitecustomize"]["start"] - first["process"]["start"],
        "engine": running - loaded["end"],
        "setup": _at(tasks[0]["start_time"]) - running,
        "between": sum(_at(b["start_time"]) - _at(a["end_time"]) for a, b in pairwise(tasks)),
        "teardown": done - _at(tasks[-1]["end_time"]),
        "page": followed["seen"] - done,
        "fit": fit_s if fit_s is not None else fit["end"] - fit["start"],
    }
    cpu |= {
        "imports": loaded["cpu1"],  # the process's CPU seconds from its start
        "python": first["sitecustomize"]["cpu1"],
        "fit": fit["cpu1"] - fit["cpu0"],
    }
    for task in tasks:
        key = next(k for name, k in TASKS.items() if task["name"].startswith(name))
        s[key] = _at(task["end_time"]) - _at(task["start_time"])
    for rows in (s, cpu):
        if "log_model" in rows:
            parts = ("save_model", "validate", "model_artifacts")
            rows["logged_model"] = rows["log_model"] - sum(rows.get(k, 0.0) for k in parts)
    s["log_rest"] = s["log"] - sum(s.get(k, 0.0) for k in LOG_PARTS)
    return {
        "seconds": s,
        "cpu": cpu,
        "state": followed["state"],
        "total_s": followed["seen"] - click,
        "completed_s": done - click,
        "flow_s": done - running,
        "exit_after_s": (exited - done) if exited else None,
        "polls": followed["polls"],
    }


def _goal_click(run: dict[str, Any]) -> str:
    bound = run["seconds"]["fit"] + 3
    return f"{bound:.2f} {check(run['total_s'] <= bound)}"


def _goal_share(run: dict[str, Any]) -> str:
    share = 1 - run["seconds"]["fit"] / run["flow_s"]
    return f"{100 * share:.0f} % {check(share < 0.15)}"


def _exit(run: dict[str, Any]) -> str:
    return "" if run["exit_after_s"] is None else f"{run['exit_after_s']:.2f}"


SUMMARY: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("final state", lambda r: str(r["state"])),
    ("click → Completed state", lambda r: f"{r['completed_s']:.2f}"),
    ("goal: the page sees Completed ≤ fit + 3 s", _goal_click),
    ("flow (Running → Completed)", lambda r: f"{r['flow_s']:.2f}"),
    ("goal: outside the fit < 15 % of the flow", _goal_share),
    ("outside the fit, click → seen", lambda r: f"{r['total_s'] - r['seconds']['fit']:.2f}"),
    ("the run's process exits, after Completed", _exit),
)


def _cell(run: dict[str, Any], key: str) -> str:
    if key not in run["seconds"]:
        return ""
    cpu = run["cpu"].get(key)
    return f"{run['seconds'][key]:.2f}" + ("" if cpu is None else f" ({cpu:.2f})")


def _row(label: str, values: Iterable[str]) -> str:
    return f"| {label} | " + " | ".join(values) + " |"


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return sum(r["seconds"].get(key, 0.0) for r in runs) / len(runs)


def report(
    runs: list[dict[str, Any]], imports: dict[str, Any], args: argparse.Namespace, load: float
) -> str:
    """The Markdown section: the timeline of each run, the ranking, the import profile."""
    names = [f"run {n}" for n in range(1, len(runs) + 1)]
    lines = [
        "## Train: from the click to Completed",
        "",
        f"Command: `.venv/bin/python bench/train_click_timeline.py --rows {args.rows} --runs "
        f"{args.runs} --write docs/BENCHMARKS.md`",
        f"{run_line(load)}. A local stack as `make run` starts it (MLflow server, Prefect "
        "server, the flows worker `python -m core.flows.serve`, the predictor API) in a fresh "
        f"var/ folder; the {args.rows:,}-row catalogue loaded to 43 %. Each run: the Training "
        "page's click (Default preset, promote if the gate passes) as `PrefectManager.trigger`, "
        f"then the page's polling (`progress()` every {args.poll:g} s) until it sees the run "
        "finished. Times from Prefect's state history and task runs, the MLflow run's "
        "`fit_seconds` and the probe (`bench/click_probe/`). Streamlit's re-rendering of the "
        "page after the poll is not included. The stack's services run at the command's "
        f"priority (niceness {os.nice(0)}).",
        "",
        "Seconds of wall time; in brackets, where the probe timed it, the CPU seconds the "
        "flow-run process spent in that step (on a shared machine, wall time also counts the "
        "waits for a core).",
        "",
        "| step (seconds) | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(runs),
    ]
    for key, (depth, label) in ROWS.items():
        if not any(key in r["seconds"] for r in runs):
            continue
        text = "… " * depth + label
        values = [_cell(r, key) for r in runs]
        lines.append(_row(f"**{text}**" if depth == 0 else text, values))
    total = [f"**{r['total_s']:.2f}**" for r in runs]
    lines.append(_row("**click → the page sees Completed**", total))
    lines += [_row(label, (value(r) for r in runs)) for label, value in SUMMARY]
    leaves = sorted(LEAVES, key=lambda k: -_mean(runs, k))
    outside = sum(_mean(runs, k) for k in LEAVES)
    lines += [
        "",
        f"Outside the fit, largest first (mean of the {len(runs)} runs; {outside:.1f} s in all, "
        "the page's click to its poll; nested rows in place of the step they split):",
        "",
    ]
    lines += [
        f"{n}. {ROWS[k][1]}: {_mean(runs, k):.2f} s" for n, k in enumerate(leaves[:12], start=1)
    ]
    top = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in imports["packages"][:8])
    lines += [
        "",
        f'What a new process pays to import the flow (`python -c "import core.flows.train"`): '
        f"{imports['wall_s']:.2f} s wall against {imports['bare_s']:.2f} s for `python -c pass`; "
        f"`-X importtime` (which slows imports down), self time by top-level package "
        f"({imports['profiled_s']:.2f} s in all): {top}.",
        "",
    ]
    return "\n".join(lines)
