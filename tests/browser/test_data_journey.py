"""A newcomer's first minutes, in a real browser: open the app, import, initialize, load a batch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_home_then_dataset_initialize_and_next_batch(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Rakuten MLOps Control Room")).to_be_visible()
    expect(page.get_by_text("reachable", exact=True)).to_be_visible()

    page.get_by_role("link", name=re.compile("Dataset — import")).click()
    expect(page).to_have_url(re.compile(r"/Dataset$"))
    expect(page.get_by_text("No dataset yet")).to_be_visible()

    page.get_by_role("button", name="Import", exact=True).click()
    expect(
        page.get_by_text(re.compile(r"Imported built-in catalogue \(20,000 rows"))
    ).to_be_visible(timeout=60_000)
    expect(metric(page, "Loaded share")).to_have_text("0.0 %")

    page.get_by_role("button", name=re.compile(r"^Initialize")).click()
    expect(metric(page, "Stage")).to_have_text("40 %")
    expect(metric(page, "Loaded share")).to_have_text(re.compile(r"^40\.\d %$"))

    page.get_by_role("button", name=re.compile(r"^Load next batch")).click()
    expect(metric(page, "Stage")).to_have_text("43 %")
    expect(metric(page, "Loaded share")).to_have_text(re.compile(r"^43\.\d %$"))

    history = page.get_by_test_id("stDataFrame").first
    expect(history).to_contain_text("Initialize")
    expect(history).to_contain_text("Next batch")
