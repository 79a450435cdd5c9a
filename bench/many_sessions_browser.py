"""The browser side of ``bench/many_sessions.py``: sessions moving through every page, and the
set-up a person does first (the operator is in ``many_sessions_operator.py``).

One headless Debian Chromium (as the browser tests drive it, asyncio Playwright); each session is
a browser context of its own. A session opens the app once (a full page load, ``visit``) and
then moves from page to page with the sidebar's links (``click_to``), as a person does: one
Streamlit session throughout. A page is rendered once the app is connected, its script run is
over (``stApp``'s ``data-test-script-state``, what Streamlit's own end-to-end tests wait for) and
the page's own title is on screen (consecutive pages differ, so the previous one never counts).
Times are read in the page itself (``performance.now()``, checked every :data:`POLL_MS`): from
the navigation's start for the opening load, from the click on the link for the others.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from playwright.async_api import Browser, Page, expect
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

PAGES = {  # name → (path, the title the page shows)
    "Home": ("", "Rakuten MLOps Control Room"),
    "Dataset": ("Dataset", "Dataset"),
    "Training": ("Training", "Training"),
    "Predictions": ("Predictions", "Predictions"),
    "Monitoring": ("Monitoring", "Monitoring"),
    "Infrastructure": ("Infrastructure", "Infrastructure"),
    "Access": ("Access", "Access"),
    "Audit": ("Audit", "Audit"),
}
POLL_MS = 50
VISIT_TIMEOUT_MS = 300_000  # a page under load; longer counts as never rendered
RUN_TIMEOUT_MS = 600_000
FINAL_STATES = ("Completed", "Failed", "Crashed", "Cancelled")
FINAL = "|".join(FINAL_STATES)
MARK_CLICK = """() => {
  window.__benchClick = undefined;
  document.addEventListener('click', () => { window.__benchClick = performance.now(); },
                            {capture: true, once: true});
}"""
RENDERED = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testConnectionState !== 'CONNECTED') return false;
  if (!['notRunning', 'compilationError'].includes(app.dataset.testScriptState)) return false;
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  return h1 && h1.textContent.includes(title) ? performance.now() : false;
}"""

WHERE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  return `connection ${app?.dataset.testConnectionState}, script ${app?.dataset.testScriptState}, `
    + `title ${h1 ? JSON.stringify(h1.textContent) : 'missing'}`;
}"""


@dataclass
class Visit:
    """One page shown to one session: its render time (None: timed out) and what went wrong."""

    session: int
    page: str
    start: float  # time.time()
    ms: float | None
    exceptions: list[str]  # the first line of each stException on the page
    errors: list[str]  # the st.error messages on the page
    stuck: str = ""  # timed out: where the page was (connection, script run, title)
    opening: bool = False  # the session's first page: a full page load, not a click


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(VISIT_TIMEOUT_MS)
    return page


async def rendered(page: Page, title: str, timeout_ms: float = VISIT_TIMEOUT_MS) -> float:
    handle = await page.wait_for_function(RENDERED, arg=title, polling=POLL_MS, timeout=timeout_ms)
    return float(await handle.json_value())


async def _where(page: Page) -> str:
    try:
        return str(await asyncio.wait_for(page.evaluate(WHERE), 30))
    except (TimeoutError, PlaywrightError) as exc:
        return f"the page does not answer: {exc}"


async def _seen(page: Page, session: int, name: str, start: float, ms: float | None) -> Visit:
    """The visit as the page shows it: its exceptions, error messages, where it stood if late."""
    stuck = "" if ms is not None else await _where(page)
    exceptions = await page.get_by_test_id("stException").all_inner_texts()
    errors = await page.get_by_test_id("stAlertContentError").all_inner_texts()
    first_lines = [text.strip().splitlines()[0] if text.strip() else "?" for text in exceptions]
    return Visit(session, name, start, ms, first_lines, [e.strip() for e in errors], stuck)


async def visit(
    page: Page, base_url: str, session: int, name: str, timeout_ms: float = VISIT_TIMEOUT_MS
) -> Visit:
    """Load page ``name`` (a full page load) and wait until it is rendered."""
    path, title = PAGES[name]
    start = time.time()
    ms: float | None
    try:
        await page.goto(f"{base_url}/{path}", wait_until="commit", timeout=timeout_ms)
        ms = await rendered(page, title, timeout_ms)
    except PlaywrightTimeout:
        ms = None
    seen = await _seen(page, session, name, start, ms)
    seen.opening = True
    return seen


async def click_to(
    page: Page, session: int, name: str, timeout_ms: float = VISIT_TIMEOUT_MS
) -> Visit:
    """Click page ``name``'s link in the sidebar and wait until it is rendered."""
    path, title = PAGES[name]
    start = time.time()
    ms: float | None
    try:
        await page.evaluate(MARK_CLICK)
        link = page.locator(f'[data-testid="stSidebarNavLink"][href$="/{path}"]')
        await link.click(timeout=timeout_ms)
        done = await rendered(page, title, timeout_ms)
        ms = done - float(await page.evaluate("window.__benchClick"))
    except PlaywrightTimeout:
        ms = None
    return await _seen(page, session, name, start, ms)


def order(session: int) -> list[str]:
    """Session ``session``'s way through the pages: a rotation, backwards for odd sessions, so
    that at any moment the sessions are spread over every page."""
    names = list(PAGES)
    shift = (session // 2) % len(names)
    rotated = names[shift:] + names[:shift]
    return rotated[::-1] if session % 2 else rotated


async def session(browser: Browser, base_url: str, number: int, rounds: int) -> list[Visit]:
    """One person: opens the app (on the last page of its order), then ``rounds`` times through
    every page, in the session's own order, by the sidebar; gives up after two pages in a row
    never rendered (the app is gone: every further page would wait as long)."""
    names = order(number)
    page = await new_page(browser)
    try:
        seen = [await visit(page, base_url, number, names[-1])]
        for name in names * rounds:
            if len(seen) >= 2 and seen[-1].ms is None and seen[-2].ms is None:
                break
            seen.append(await click_to(page, number, name))
        return seen
    finally:
        await page.context.close()


async def _run_to_end(page: Page, flow: str, button: re.Pattern[str] | str) -> None:
    """Click ``button`` and wait for the page's panel to show the ``flow`` run completed."""
    await page.get_by_role("button", name=button).click()
    done = page.get_by_text(re.compile(rf"{flow} run \S+ — ({FINAL})"))
    refused = page.get_by_test_id("stAlertContentError")
    await done.or_(refused).first.wait_for(timeout=RUN_TIMEOUT_MS)
    if await refused.count() or "Completed" not in await done.inner_text():
        shown = await done.or_(refused).first.inner_text()
        raise SystemExit(f"the first {flow} run did not complete: {shown}")


async def set_up(browser: Browser, base_url: str, traffic: int) -> None:
    """What a person does first, in the app: Initialize the data, train a first model (promoted:
    the form's default), wait until the API serves it, send some traffic and check it for drift
    (so that the Monitoring page shows Evidently's report in both phases)."""
    page = await new_page(browser)
    try:
        await page.goto(f"{base_url}/Dataset")
        await rendered(page, PAGES["Dataset"][1])
        initialize = page.get_by_role("button", name=re.compile("Initialize"))
        await initialize.wait_for()
        if await initialize.is_enabled():
            await initialize.click()
        stage = page.get_by_test_id("stMetric").filter(has_text="Stage")
        await expect(stage.get_by_test_id("stMetricValue")).not_to_have_text(
            "0 %", timeout=VISIT_TIMEOUT_MS
        )

        await page.goto(f"{base_url}/Training")
        await rendered(page, PAGES["Training"][1])
        await _run_to_end(page, "train", re.compile(r"Train$"))

        # The API loads the new champion on its next check: reload the page until it says so.
        serving = page.get_by_text(re.compile(r"Serving v\d+ of the registry model"))
        deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
        while True:
            await page.goto(f"{base_url}/Predictions")
            await rendered(page, PAGES["Predictions"][1])
            if await serving.count() or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        await expect(serving).to_be_visible()

        await page.goto(f"{base_url}/Monitoring")
        await rendered(page, PAGES["Monitoring"][1])
        await page.get_by_role("spinbutton", name="Predictions").fill(str(traffic))
        await page.get_by_role("button", name="Send traffic").click()
        sent = page.get_by_text(re.compile(rf"Sent {traffic:,} predictions"))
        await expect(sent).to_be_visible(timeout=RUN_TIMEOUT_MS)
        await rendered(page, PAGES["Monitoring"][1])
        await _run_to_end(page, "monitor", "Run drift check now")
    finally:
        await page.context.close()
