"""The click on Train in a real browser, for ``bench/train_click_timeline.py``.

Headless Debian Chromium (as the browser tests drive it) opens the control room's Training page,
clicks Train with the form as it comes (the Default preset, promote if the gate passes) and waits
for the run's panel to show "Completed": the time a person sees, Streamlit's rendering included.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

PAGE_TIMEOUT_MS = 120_000  # the app's first page load imports MLflow
RUN_TIMEOUT_MS = 600_000


def browser_available() -> bool:
    """Whether Chromium and Playwright are there (the benchmark says so when they are not)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def click_train(app_url: str) -> dict[str, Any]:
    """Click Train on the Training page; ``click`` and ``seen`` (the panel shows Completed) as
    ``time.time()`` seconds, and the run's name as the panel shows it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{app_url}/Training", timeout=PAGE_TIMEOUT_MS)
            heading = page.get_by_role("heading", name="Train a model")
            heading.wait_for(timeout=PAGE_TIMEOUT_MS)
            button = page.get_by_role("button", name=re.compile(r"Train$"))
            button.wait_for(timeout=PAGE_TIMEOUT_MS)
            clicked = time.time()
            button.click()
            # wait_for watches the page itself (no retry back-off): the time is the page's own.
            done = page.get_by_text(re.compile(r"train run \S+ — (Completed|Failed|Crashed)"))
            done.wait_for(timeout=RUN_TIMEOUT_MS)
            seen = time.time()
            text = done.inner_text()
        finally:
            browser.close()
    return {"click": clicked, "seen": seen, "panel": text}
