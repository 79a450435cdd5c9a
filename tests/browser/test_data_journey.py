"""A newcomer's first minutes in a real browser, against `make run`: Home, Dataset, Initialize,
Load next batch, the history; then importing another source from the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser


def metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_initialize_then_next_batch_from_40_to_43_percent(page: Page, app_url: str) -> None:
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Rakuten MLOps Control Room")).to_be_visible()
    expect(page.get_by_text("reachable", exact=True)).to_be_visible()
    expect(page.get_by_text("0.0 %", exact=True)).to_be_visible()  # imported by make run

    page.get_by_role("link", name=re.compile("Dataset — import")).click()
    expect(page).to_have_url(re.compile(r"/Dataset$"))
    expect(page.get_by_text("Source: built-in catalogue (20,000 rows, seed 42)")).to_be_visible()
    expect(metric(page, "Loaded share")).to_have_text("0.0 %")

    page.get_by_role("button", name=re.compile(r"Initialize")).click()
    expect(metric(page, "Stage")).to_have_text("40 %")
    expect(metric(page, "Loaded share")).to_have_text(re.compile(r"^40\.\d %$"))

    page.get_by_role("button", name=re.compile(r"Load next batch")).click()
    expect(metric(page, "Stage")).to_have_text("43 %")
    expect(metric(page, "Loaded share")).to_have_text(re.compile(r"^43\.\d %$"))

    history = page.get_by_test_id("stDataFrame").first
    expect(history).to_contain_text("Initialize")
    expect(history).to_contain_text("Next batch")

    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"^43\.\d %$"))).to_be_visible()


def test_replace_the_dataset_from_the_page(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/Dataset")
    page.get_by_text("Import data").click()
    import_button = page.get_by_role("button", name="Import", exact=True)
    expect(import_button).to_be_disabled()
    page.get_by_text("Replace the current dataset").click()
    rows = page.get_by_role("spinbutton", name="Catalogue size (rows)")
    rows.fill("5000")
    rows.press("Enter")
    import_button.click()
    expect(page.get_by_text(re.compile(r"Imported built-in catalogue \(5,000 rows"))).to_be_visible(
        timeout=60_000
    )
    expect(metric(page, "Loaded share")).to_have_text("0.0 %")
