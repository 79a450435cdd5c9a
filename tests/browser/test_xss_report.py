"""Hostile product text, sent to the real API, cannot run script in the control room.

Anyone can POST a product to the predictor; its title and description land in the inference log,
and the drift report (Evidently, embedded on the Monitoring page) shows samples of them. Payloads
that would set ``window.__xss`` in every window they can reach go through ``POST /predict`` and
``/predict/batch``, the monitor flow checks drift, and the Monitoring and Predictions pages are
opened in headless Chromium: no frame, and not the page itself, may have a ``__xss``.

Runs after the training journey (file order) and reuses its champion; alone, it trains one.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from core.data.synthetic import generate_catalogue

pytestmark = pytest.mark.browser
FLOW_TIMEOUT = 180_000
# Own frame first, so the mark is set even where reaching the parent throws. No quotes: Evidently's
# JSON writes a quote as \" , which would break a quoted attribute before it runs.
MARK = "window.__xss=1;window.parent.__xss=1;window.top.__xss=1"
PAYLOADS = (
    f"</script><img src=x onerror={MARK}>",
    f"<!--<script></script><script>{MARK}</script>",
    f"</script><svg onload={MARK}>",
)
SERVING = re.compile(r"Serving v\d+ of the registry model|is up but serves no model")


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # the API is on 127.0.0.1
        return json.load(answer)


def served_api(page: Page, app_url: str) -> str:
    """The API's URL, from the Predictions page; a champion is trained first if none is served."""
    page.goto(f"{app_url}/Predictions")
    status = page.get_by_text(SERVING)
    expect(status).to_be_visible()
    if "serves no model" in status.inner_text():
        train_a_champion(page, app_url)
        page.goto(f"{app_url}/Predictions")
        expect(page.get_by_text(re.compile(r"Serving v\d+ of the registry model"))).to_be_visible(
            timeout=60_000
        )
    docs = page.get_by_role("link", name="API docs").get_attribute("href")
    assert docs and docs.startswith("http://127.0.0.1:") and docs.endswith("/docs")
    return docs.removesuffix("/docs")


def train_a_champion(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/Dataset")
    initialize = page.get_by_role("button", name=re.compile(r"Initialize"))
    if initialize.is_enabled():
        initialize.click()
    stage = page.get_by_test_id("stMetric").filter(has_text="Stage")
    expect(stage.get_by_test_id("stMetricValue")).not_to_have_text("0 %")
    page.goto(f"{app_url}/Training")
    promote = page.get_by_role("checkbox", name="Promote to champion if the gate passes")
    if not promote.is_checked():
        page.get_by_text("Promote to champion if the gate passes").click()
    page.get_by_role("button", name=re.compile(r"Train$")).click()
    panel = page.get_by_text(re.compile(r"train run \S+ — \w+"))
    expect(panel).to_contain_text("— Completed", timeout=FLOW_TIMEOUT)


def send_hostile_traffic(api: str) -> None:
    """Enough predictions for a drift check, a third of them payloads in both text fields."""
    normal = generate_catalogue(2_000, seed=11).sample(90, random_state=1)
    products = [
        {"designation": row.designation, "description": row.description}
        for row in normal.itertuples()
    ]
    products += [{"designation": p, "description": p} for p in PAYLOADS for _ in range(15)]
    answer = post(f"{api}/predict/batch", {"products": products})
    assert len(answer["predictions"]) == len(products)
    for payload in PAYLOADS:
        assert post(f"{api}/predict", {"designation": payload, "description": payload})["code"]


def xss_marks(page: Page) -> list[object]:
    """``window.__xss`` in the page and in every frame of it (a sandboxed one included)."""
    return [frame.evaluate("() => window.__xss") for frame in page.frames]


def report_frame_text(page: Page, timeout: float = 60) -> str:
    """The text of the frame that holds Evidently's report, once it has drawn itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames[1:]:
            text = frame.evaluate("() => document.body ? document.body.innerText : ''")
            if "Drifted Columns" in text:
                return text
        page.wait_for_timeout(500)
    raise AssertionError("the Evidently report did not render on the Monitoring page")


def test_payloads_sent_to_the_api_never_run_in_the_control_room(page: Page, app_url: str) -> None:
    api = served_api(page, app_url)
    send_hostile_traffic(api)

    page.goto(f"{app_url}/Monitoring")
    page.get_by_role("button", name="Run drift check now").click()
    panel = page.get_by_text(re.compile(r"monitor run \S+ — \w+"))
    expect(panel).to_contain_text("— Completed", timeout=FLOW_TIMEOUT)

    page.goto(f"{app_url}/Monitoring")  # the page as an operator opens it, with the new report
    expect(page.get_by_test_id("stIFrame")).to_be_visible()
    page.wait_for_timeout(3_000)  # an image's onerror fires once its load fails: give it time
    assert set(xss_marks(page)) == {None}
    assert "Drifted Columns" in report_frame_text(page)  # and the report still draws itself

    page.goto(f"{app_url}/Predictions")
    page.get_by_role("tab", name="History & feedback").click()
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()
    page.wait_for_timeout(1_000)
    assert set(xss_marks(page)) == {None}
