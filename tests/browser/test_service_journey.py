"""Infrastructure in a real browser against `make run`: every local service healthy; stop the API
from the page, see it down there and on the Predictions page; start it again.

Runs before the training journey (file order) on the same `make run`, and leaves the API running.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
LOCAL_SERVICES = ["mlflow", "prefect", "worker", "api", "app"]


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def open_api_controls(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/Infrastructure")
    expect(page.get_by_role("heading", name="Infrastructure")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Service").click()
    page.get_by_role("option", name=re.compile(r"^api — ")).click()
    expect(page.get_by_role("heading", name="Logs of api")).to_be_visible()


def test_stop_the_api_from_the_page_and_start_it_again(page: Page, app_url: str) -> None:
    open_api_controls(page, app_url)
    expect(metric(page, "Healthy")).to_have_text(f"{len(LOCAL_SERVICES)} / {len(LOCAL_SERVICES)}")
    table = page.get_by_test_id("stDataFrame").first
    for name in LOCAL_SERVICES:
        expect(table).to_contain_text(name)
    expect(page.get_by_test_id("stCode")).to_contain_text("Uvicorn running on")  # the API's log

    page.get_by_role("button", name="Stop api…").click()
    page.get_by_role("button", name="Yes, stop api").click()
    expect(page.get_by_text("api stop: now stopped")).to_be_visible()
    expect(metric(page, "Down")).to_have_text("api")
    expect(table).to_contain_text("stopped (no process)")

    page.goto(f"{app_url}/Predictions")
    expect(page.get_by_text(re.compile(r"Predictor API not reachable at"))).to_be_visible()
    page.goto(app_url)
    expect(page.get_by_text("down: api")).to_be_visible()  # Home's services card

    open_api_controls(page, app_url)
    page.get_by_role("button", name="Start api…", exact=True).click()
    page.get_by_role("button", name="Yes, start api").click()
    expect(page.get_by_text("api start: now healthy.")).to_be_visible(timeout=90_000)
    expect(metric(page, "Down")).to_have_text("none")
    page.goto(f"{app_url}/Predictions")  # up again, and says why it serves nothing yet
    expect(page.get_by_text(re.compile(r"is up but serves no model"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Predictor API not reachable at"))).to_have_count(0)
