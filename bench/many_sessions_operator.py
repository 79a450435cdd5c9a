"""The operator of ``bench/many_sessions.py``'s phase 2, who keeps a train run and a drift check
going while the sessions move through the pages, and the phase itself (``team``)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.many_sessions_browser import (
    FINAL_STATES,
    PAGES,
    RUN_TIMEOUT_MS,
    Visit,
    new_page,
    rendered,
    session,
)


@dataclass
class RunOutcome:
    """One flow run the operator started: its name, final state, seconds click → seen final."""

    flow: str
    name: str
    state: str
    seconds: float


@dataclass
class Operator:
    """What the operator did in phase 2."""

    runs: list[RunOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def _panel_run(page: Page, flow: str) -> tuple[str, str] | None:
    """(name, state) of the run the page's panel follows, if one is shown."""
    texts = await page.get_by_text(re.compile(rf"{flow} run \S+ — \w+")).all_inner_texts()
    found = re.search(rf"{flow} run (\S+) — (\w+)", texts[0]) if texts else None
    return (found.group(1), found.group(2)) if found else None


def ended_after(now: tuple[str, str] | None, before: tuple[str, str] | None) -> bool:
    """Whether the panel shows a run other than ``before`` (name, state), in a final state."""
    return now is not None and (before is None or now[0] != before[0]) and now[1] in FINAL_STATES


async def _keep_going(
    page: Page, flow: str, button: re.Pattern[str] | str, stop: asyncio.Event, out: Operator
) -> None:
    """Click ``button``, follow the run on the page until it ends; again until ``stop`` is set.

    The run in flight when ``stop`` is set is followed to its end too.
    """
    title = PAGES["Training" if flow == "train" else "Monitoring"][1]
    while not stop.is_set():
        await rendered(page, title)  # not in the middle of the rerun a finished run triggers
        before = await _panel_run(page, flow)
        clicked = time.monotonic()
        await page.get_by_role("button", name=button).click()
        deadline = clicked + RUN_TIMEOUT_MS / 1000
        now = before
        while now is None or not ended_after(now, before):
            if time.monotonic() > deadline:
                out.problems.append(f"{flow} run {now} not finished after {RUN_TIMEOUT_MS} ms")
                return
            await asyncio.sleep(0.2)
            now = await _panel_run(page, flow)
        out.runs.append(RunOutcome(flow, now[0], now[1], time.monotonic() - clicked))
        await asyncio.sleep(1.5)  # the page reruns one poll after showing the end


async def operate(browser: Browser, base_url: str, stop: asyncio.Event) -> Operator:
    """An operator (a context of its own, two tabs): Train on the Training page and "Run drift
    check now" on the Monitoring page, each clicked again as soon as its run has ended, until
    ``stop``; the pages follow their runs live meanwhile, as they do for a person."""
    out = Operator()
    trainer = await new_page(browser)
    checker = await trainer.context.new_page()
    try:
        await trainer.goto(f"{base_url}/Training")
        await checker.goto(f"{base_url}/Monitoring")
        await asyncio.gather(
            _keep_going(trainer, "train", re.compile(r"Train$"), stop, out),
            _keep_going(checker, "monitor", "Run drift check now", stop, out),
        )
    except PlaywrightTimeout as exc:
        out.problems.append(f"operator: {exc}")
    finally:
        await trainer.context.close()
    return out


async def team(
    browser: Browser, base_url: str, sessions: int, rounds: int
) -> tuple[list[Visit], Operator, float]:
    """``sessions`` sessions at once while the operator keeps the runs going; their visits, the
    operator's runs and the seconds the sessions took."""
    stop = asyncio.Event()
    operator = asyncio.create_task(operate(browser, base_url, stop))
    await asyncio.sleep(3)  # the first clicks land before the sessions arrive
    start = time.monotonic()
    done: list[Any] = await asyncio.gather(
        *(session(browser, base_url, n, rounds) for n in range(sessions))
    )
    seconds = time.monotonic() - start
    stop.set()
    return [v for visits in done for v in visits], await operator, seconds
