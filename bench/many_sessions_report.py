"""The Markdown section of ``bench/many_sessions.py``: render times alone and under a team, what
went wrong on the pages, the operator's runs, memory and load."""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench.many_sessions_browser import PAGES, POLL_MS, VISIT_TIMEOUT_MS, Visit
from bench.many_sessions_operator import Operator
from bench.markdown import check, run_line

SECTION = "## Many sessions"


@dataclass
class Measured:
    """Everything one benchmark run measured."""

    single: list[Visit]  # phase 1: one session
    team: list[Visit]  # phase 2: ``--sessions`` sessions at once
    operator: Operator
    single_s: float  # seconds phase 1 took
    team_s: float  # seconds the sessions of phase 2 took
    memory: dict[str, dict[str, float]]  # phase → {"Chromium": MiB, "app": MiB} (peak PSS)
    cpu: dict[str, dict[str, float]]  # phase → CPU seconds by kind of process, "machine", "wall"
    load: dict[str, float]  # phase → mean 1-minute load average while it ran
    exits: list[str] = field(default_factory=list)  # services that exited (make run's watchdog)


def _seconds(visits: list[Visit]) -> list[float]:
    """Render times; a page never rendered counts as infinitely long (it is one of the slow)."""
    return [v.ms / 1000 if v.ms is not None else math.inf for v in visits]


def _p(values: list[float], q: float) -> float:
    """The ``q`` th percentile: a time actually seen (no interpolation, so a page never rendered
    shows as such instead of being averaged with one that was)."""
    return float(np.percentile(values, q, method="inverted_cdf")) if values else math.nan


def _s(seconds: float) -> str:
    return f"> {VISIT_TIMEOUT_MS / 1000:.0f}" if math.isinf(seconds) else f"{seconds:.2f}"


def _ratio(many: float, one: float) -> str:
    return f"{many / one:.1f}×" if 0 < one < math.inf and many < math.inf else "–"


def _row(label: str, single: list[Visit], team: list[Visit]) -> str:
    one, many = _seconds(single), _seconds(team)
    p95_one, p95_many = _p(one, 95), _p(many, 95)
    return (
        f"| {label} | {len(one)} | {_s(_p(one, 50))} | {_s(p95_one)} | {len(many)} | "
        f"{_s(_p(many, 50))} | {_s(p95_many)} | {_ratio(p95_many, p95_one)} |"
    )


def _listed(texts: Counter[str], limit: int = 5) -> str:
    shown = [f"{n}× “{text[:160]}”" for text, n in texts.most_common(limit)]
    more = len(texts) - limit
    return "; ".join(shown) + (f"; and {more} more kinds" if more > 0 else "")


def passed(measured: Measured) -> bool:
    """The goals: every page rendered, with no exception; every run the operator started (at
    least one train run and one drift check) completed; no service of the stack exited."""
    visits = measured.single + measured.team
    flows = {run.flow for run in measured.operator.runs}
    return (
        all(v.ms is not None and not v.exceptions for v in visits)
        and flows == {"train", "monitor"}
        and all(run.state == "Completed" for run in measured.operator.runs)
        and not measured.operator.problems
        and not measured.exits
    )


def _problems(single: list[Visit], team: list[Visit]) -> list[str]:
    """The goal (no exception on any page) and what else the pages showed."""
    visits = single + team
    exceptions = Counter(f"{v.page}: {e}" for v in visits for e in v.exceptions)
    errors = Counter(f"{v.page}: {e}" for v in visits for e in v.errors)
    late = Counter(f"{v.page} ({v.stuck})" for v in visits if v.ms is None)
    lines = [
        f"- goal: no exception on any page (`stException`), {len(visits)} pages shown: "
        f"{sum(exceptions.values())} {check(not exceptions)}"
        + (f" — {_listed(exceptions)}" if exceptions else "")
    ]
    lines.append(
        f"- pages not rendered within {VISIT_TIMEOUT_MS / 1000:.0f} s: {sum(late.values())} "
        f"{check(not late)}"
        + (f": {', '.join(f'{n}× {p}' for p, n in late.items())}" if late else "")
    )
    lines.append(
        f"- error messages shown (`st.error`, a dependency's failure as the page words it): "
        f"{sum(errors.values())}" + (f" — {_listed(errors)}" if errors else "")
    )
    return lines


def _runs(operator: Operator) -> list[str]:
    lines = []
    for flow, label in (("train", "train runs"), ("monitor", "drift checks")):
        runs = [r for r in operator.runs if r.flow == flow]
        states = Counter(r.state for r in runs)
        seconds = ", ".join(f"{r.seconds:.0f}" for r in runs)
        ok = bool(runs) and set(states) == {"Completed"}
        lines.append(
            f"- goal: {label} completed: {len(runs)} run(s), "
            f"{', '.join(f'{n} {s}' for s, n in states.items()) or 'none'} {check(ok)}"
            + (f"; click → the page shows the end: {seconds} s" if runs else "")
        )
    lines += [f"- operator problem: {problem} ❌" for problem in operator.problems]
    return lines


def _cpu(phase: dict[str, float]) -> str:
    """The machine's busy CPU seconds in a phase, and ours by kind of process, largest first."""
    if not phase:
        return "not measured"
    wall, machine = phase["wall"], phase["machine"]
    ours = {k: v for k, v in phase.items() if k not in ("wall", "machine")}
    kinds = ", ".join(f"{k} {v:.0f}" for k, v in sorted(ours.items(), key=lambda kv: -kv[1]))
    share = ours.get("Chromium", 0.0) / sum(ours.values()) if sum(ours.values()) else 0.0
    return (
        f"{wall:.0f} s × {os.cpu_count()} cores; the machine busy {machine:.0f} s, of which this "
        f"benchmark {sum(ours.values()):.0f} s ({kinds}); Chromium, which in a team runs on each "
        f"person's own machine, {share:.0%} of it"
    )


def _method(args: argparse.Namespace) -> str:
    n, rounds = args.sessions, args.rounds
    return " ".join(
        [
            f"`make run` in a fresh var/ folder (the {args.rows:,}-row catalogue); then, in the",
            "app, as a person starts: Initialize, Train (promoted),",
            f"{args.traffic} predictions sent from the Monitoring page and a drift check (so",
            "that the Monitoring page shows Evidently's report, about 4 MB, in both phases).",
            "One headless Chromium (Debian's, asyncio Playwright) on the same machine as the app,",
            "one browser context per session. A session opens the app once (a full page load),",
            "then moves through the pages with the sidebar's links, as a person does. A page is",
            "rendered once the app is connected, its script run is over and the page's title",
            f"shows; timed in the page (`performance.now()`, checked every {POLL_MS} ms) from the",
            "click on the link (from the navigation's start for the opening load). Percentiles",
            "are times actually seen (no interpolation); a page never rendered counts as the",
            f"slowest. Phase 1: one session, {rounds} rounds through the 8 pages (after one",
            f"unmeasured round). Phase 2: {n} sessions at once, {rounds} rounds each, each in its",
            "own order, while an operator (a context of its own; two tabs, which follow their",
            "runs live) clicks Train on the Training page and Run drift check now on the",
            "Monitoring page, and again as soon as each has ended, until the sessions are done.",
            f"The stack and Chromium run at the command's niceness ({os.nice(0)}). Seconds.",
        ]
    )


def report(measured: Measured, args: argparse.Namespace, load: float) -> str:
    """The "## Many sessions" section."""
    m, n = measured, args.sessions
    command = (
        f".venv/bin/python -m bench.many_sessions --sessions {n} --rounds {args.rounds} "
        f"--rows {args.rows} --publish"
    )
    header = (
        f"| page | shown, 1 session | p50 | p95 | shown, {n} sessions | p50 | p95 | p95 ratio |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    clicks = [v for v in m.single if not v.opening], [v for v in m.team if not v.opening]
    rows = [_row("**every page** (by the sidebar)", *clicks)]
    rows += [_row(name, *([v for v in c if v.page == name] for c in clicks)) for name in PAGES]
    rows.append(
        _row(
            "opening the app (a full page load)",
            [v for v in m.single if v.opening],
            [v for v in m.team if v.opening],
        )
    )
    one, many = (_seconds(c) for c in clicks)
    mem = {
        phase: ", ".join(f"{k} {v:,.0f} MiB" for k, v in m.memory.get(phase, {}).items())
        for phase in ("single", "team")
    }
    return "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command}`",
            f"{run_line(load)}. {_method(args)}",
            "",
            header,
            *rows,
            "",
            f"- p95 over every page: {_s(_p(one, 95))} s with 1 session, {_s(_p(many, 95))} s "
            f"with {n} ({_ratio(_p(many, 95), _p(one, 95))}); p50 {_s(_p(one, 50))} s → "
            f"{_s(_p(many, 50))} s",
            f"- pages shown per minute: {len(m.single) / m.single_s * 60:.0f} with 1 session, "
            f"{len(m.team) / m.team_s * 60:.0f} with {n} ({m.team_s:.0f} s for phase 2)",
            *_problems(m.single, m.team),
            *_runs(m.operator),
            f"- goal: no service exited (`make run`'s watchdog restarts one that does): "
            f"{len(m.exits)} {check(not m.exits)}"
            + (f" — {'; '.join(m.exits)}" if m.exits else ""),
            f"- memory, peak PSS (Chromium: every process of the browser; app: the Streamlit "
            f"server's process group): 1 session {mem['single']}; {n} sessions {mem['team']}",
            f"- CPU seconds, phase 1: {_cpu(m.cpu.get('single', {}))}",
            f"- CPU seconds, phase 2 (until the operator's last runs ended): "
            f"{_cpu(m.cpu.get('team', {}))}",
            f"- load average (1 min, mean while it ran): phase 1 {m.load.get('single', 0):.2f}, "
            f"phase 2 {m.load.get('team', 0):.2f} on {os.cpu_count()} cores",
            "",
        ]
    )
