"""The app under a team: many browser sessions through every page while a train run and a drift
check run.

    .venv/bin/python -m bench.many_sessions --sessions 20 [--rounds 3] [--rows N] [--publish]

`make run` in a fresh var/ folder on free loopback ports (``make_run`` of the browser tests), the
first steps done in the app (Initialize, Train, some traffic: ``many_sessions_browser.set_up``),
then two phases in one headless Chromium: one session alone through every page, then
``--sessions`` sessions at once while an operator keeps a train run and a drift check going
(``many_sessions_browser.team``). Reported: page render p50/p95 alone and under the team (overall
and per page), exceptions on the pages (the goal: none), the runs' outcomes, the peak memory of
Chromium and of the app, the load average. ``--publish`` writes the "## Many sessions" section of
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

from bench.harness import say
from bench.many_sessions_browser import session, set_up
from bench.many_sessions_operator import team
from bench.many_sessions_procs import Sampler
from bench.many_sessions_report import SECTION, Measured, passed, report
from bench.markdown import publish
from bench.train_click_browser import browser_available
from bench.train_click_timeline import wait_worker
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, make_run
from tests.ports import free_port

DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


async def drive(url: str, args: argparse.Namespace, sampler: Sampler) -> Measured:
    """Set-up, warm-up, phase 1 (one session) and phase 2 (the team) in one Chromium."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            say("set-up in the app: Initialize, Train, send traffic …")
            await set_up(browser, url, args.traffic)
            say("warm-up: one session once through every page …")
            await session(browser, url, 0, 1)
            say(f"phase 1: one session, {args.rounds} rounds …")
            sampler.enter("single")
            start = time.monotonic()
            single = await session(browser, url, 0, args.rounds)
            single_s = time.monotonic() - start
            say(f"phase 2: {args.sessions} sessions, {args.rounds} rounds, train + drift runs …")
            sampler.enter("team")
            visits, operator, team_s = await team(browser, url, args.sessions, args.rounds)
            sampler.enter(None)
        finally:
            await browser.close()
    loads = {phase: sum(values) / len(values) for phase, values in sampler.loads.items()}
    return Measured(single, visits, operator, single_s, team_s, sampler.memory, sampler.cpu, loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions in phase 2")
    parser.add_argument("--rounds", type=int, default=3, help="times through every page")
    parser.add_argument("--rows", type=int, default=20_000, help="catalogue size")
    parser.add_argument("--traffic", type=int, default=300, help="predictions sent at set-up")
    parser.add_argument("--publish", action="store_true", help=f"write the section to {DOCS}")
    args = parser.parse_args()
    if not browser_available():
        raise SystemExit(f"needs Playwright and Chromium at {CHROMIUM} (apt-get install chromium)")

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_many_sessions_") as name:
        var_dir = Path(name) / "var"
        var_dir.mkdir()
        say(f"make run ({args.rows:,}-row catalogue) …")
        prefect_api = f"http://127.0.0.1:{free_port()}/api"
        settings = {
            "RAKUTEN_SYNTHETIC_ROWS": str(args.rows),
            "RAKUTEN_PREFECT_API_URL": prefect_api,
        }
        with make_run(var_dir, free_port(), settings) as url:
            # `make run` is up once its services are healthy; the flows may be served later.
            wait_worker(prefect_api, var_dir / "logs" / "worker.log", timeout=300)
            sampler = Sampler(var_dir / "run")
            sampler.start()
            try:
                measured = asyncio.run(drive(url, args, sampler))
            finally:
                sampler.stop()
            say("make run: stopping …")
            # The watchdog's "<service> exited (exit code N); restarting …" lines, if any.
            log = (var_dir / "make-run.log").read_text(errors="replace").splitlines()
            measured.exits = [line.split(";")[0] for line in log if " exited (exit code " in line]
    publish(report(measured, args, load), SECTION, DOCS if args.publish else None)
    if not passed(measured):
        raise SystemExit("many sessions: a goal was missed (❌ above)")


if __name__ == "__main__":
    main()
