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
from bench.train_click_rows import (
    FINISHED,
    LEAVES,
    LOG_PARTS,
    PROBED,
    ROWS,
    TASKS,
    WORKER_STARTS,
)


def _at(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


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
    # Where the run's process is ready: a new interpreter once it has loaded the flow, a fork
    # (which has it already) when the engine starts.
    if "prefect.flow_engine.load_flow" in first:
        loaded = first["prefect.flow_engine.load_flow"]
        ready, ready_cpu = loaded["end"], loaded["cpu1"]
    else:
        engine = first["prefect.flow_engine.run_flow"]
        ready, ready_cpu = engine["start"], engine["cpu0"]
    fit = next(e for e in mine if e["event"] == "core.train.fit")
    s |= {
        "trigger": followed["created"] - click,
        "poll": pending - followed["created"],
        "handoff": first["process"]["start"] - pending,
        "submit": started - pending,
        "spawn": first["process"]["start"] - started,
        "imports": ready - first["process"]["start"],
        "engine": running - ready,
        "setup": _at(tasks[0]["start_time"]) - running,
        "between": sum(_at(b["start_time"]) - _at(a["end_time"]) for a, b in pairwise(tasks)),
        "teardown": done - _at(tasks[-1]["end_time"]),
        "page": followed["seen"] - done,
        "fit": fit_s if fit_s is not None else fit["end"] - fit["start"],
    }
    cpu |= {"imports": ready_cpu, "fit": fit["cpu1"] - fit["cpu0"]}  # imports: from its start
    if "sitecustomize" in first:  # a new interpreter (a fork starts past it)
        s["python"] = first["sitecustomize"]["start"] - first["process"]["start"]
        cpu["python"] = first["sitecustomize"]["cpu1"]
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


def _browser_line(browser: dict[str, Any] | None) -> str:
    if browser is None:
        return "In the browser: not measured (no Chromium or Playwright on this machine)."
    seen, fit = browser["seen_s"], browser["fit_s"]
    goal = "" if fit is None else f"; goal fit + 3 s = {fit + 3:.2f} s {check(seen <= fit + 3)}"
    fitted = "" if fit is None else f" for a {fit:.2f} s fit"
    return (
        "**In the browser** (headless Chromium, the Training page of the same stack's app, its "
        "Train button with the form as it comes, until the run's panel shows it finished; "
        f"Streamlit's rendering included): one more run, {browser['state']}, "
        f"**{seen:.2f} s**{fitted}{goal}: the page created the run "
        f"{browser['created_s']:.2f} s after the click, the run reached {browser['state']} at "
        f"{browser['final_s']:.2f} s (its register-and-promote task, the API's reload included: "
        f"{browser['register_s']:.2f} s), the page showed it {seen - browser['final_s']:.2f} s "
        "later."
    )


def _row(label: str, values: Iterable[str]) -> str:
    return f"| {label} | " + " | ".join(values) + " |"


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return sum(r["seconds"].get(key, 0.0) for r in runs) / len(runs)


def report(
    runs: list[dict[str, Any]],
    imports: dict[str, Any],
    args: argparse.Namespace,
    load: float,
    browser: dict[str, Any] | None,
) -> str:
    """The Markdown section: the timeline of each run, the browser's click, the ranking, the
    import profile."""
    names = [f"run {n}" for n in range(1, len(runs) + 1)]
    lines = [
        "## Train: from the click to Completed",
        "",
        f"Command: `.venv/bin/python bench/train_click_timeline.py --rows {args.rows} --runs "
        f"{args.runs} --write docs/BENCHMARKS.md`",
        f"{run_line(load)}. A local stack as `make run` starts it (MLflow server, Prefect "
        "server, the flows worker `python -m core.flows.serve`, the predictor API, the app) in a "
        f"fresh var/ folder; the {args.rows:,}-row catalogue loaded to 43 %. Each run: the "
        "Training page's click (Default preset, promote if the gate passes) as "
        f"`PrefectManager.trigger`, then the page's polling (`progress()` every {args.poll:g} s, "
        "the logs every 4th) until it sees the run finished. Times from Prefect's state history "
        "and task runs, the MLflow run's `fit_seconds` and the probe (`bench/click_probe/`). "
        "Streamlit's re-rendering of the page after the poll is in the browser's run only. The "
        f"stack's services run at the command's priority (niceness {os.nice(0)}).",
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
    lines += ["", _browser_line(browser)]
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
    warm = imports.get("fork_server_s")
    lines += [
        "",
        "Paid once per worker, not per run: its fork server (started with the worker) imports "
        "`core.flows.preload` (Prefect's engine, MLflow, scikit-learn, pandas, the flows) and "
        "warms MLflow's package map"
        + (f", {warm:.2f} s from its start here" if warm is not None else "")
        + "; each run is a fork of it.",
        f'What a new process would pay to import the flow (`python -c "import core.flows.train"`): '
        f"{imports['wall_s']:.2f} s wall against {imports['bare_s']:.2f} s for `python -c pass`; "
        f"`-X importtime` (which slows imports down), self time by top-level package "
        f"({imports['profiled_s']:.2f} s in all): {top}.",
        "",
    ]
    return "\n".join(lines) + "\n"  # a blank line before the next section
