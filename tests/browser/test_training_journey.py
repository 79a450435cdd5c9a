"""Training and serving in a real browser against `make run` (MLflow, Prefect, the worker and the
API all running): train, watch the run complete, promote, see the champion; train again, roll
back; then classify a product with the served champion, mark feedback, find it in the history;
then send drifted traffic, run the drift check and read the verdict and Evidently's report;
then train a challenger, see why a product gets its category, compare the challenger live on the
traffic both scored and promote it from there.

The tests run in file order and share one `make run`: the second needs the first's champion.
Each train run reports how long the page took from the click on Train to showing "Completed"
(in the test report's properties and on the terminal; not asserted: these machines are noisy)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from core.data.categories import CATEGORIES
from core.train import PRESETS

pytestmark = pytest.mark.browser
FLOW_TIMEOUT = 180_000  # a flow run: submission, fit, MLflow logging, registration
DEFAULT = PRESETS[next(iter(PRESETS))]  # what the form comes with
FITTED = re.compile(r"Fitted \S+ in ([\d.]+) s")  # the run's log line, shown in its panel


@pytest.fixture
def report_time(request: pytest.FixtureRequest, record_property) -> Callable[[str, float], None]:
    """Record a measured time in the test report and write it on the terminal (not captured)."""
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def report(label: str, seconds: float) -> None:
        record_property(label, round(seconds, 2))
        if terminal is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(f"{request.node.name}: {label} = {seconds:.1f} s")

    return report


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def train(page: Page, app_url: str, *, auto_promote: bool) -> tuple[float, float | None]:
    """Train with the form's Default preset; (click → "Completed" shown, the run's fit) seconds."""
    page.goto(f"{app_url}/Training")
    expect(page.get_by_role("heading", name="Train a model")).to_be_visible()
    promote_box = page.get_by_text("Promote to champion if the gate passes")
    checkbox = page.get_by_role("checkbox", name="Promote to champion if the gate passes")
    if checkbox.is_checked() != auto_promote:
        promote_box.click()
    clicked = time.monotonic()
    page.get_by_role("button", name=re.compile(r"Train$")).click()
    panel = page.get_by_text(re.compile(r"train run \S+ — \w+"))
    expect(panel).to_be_visible()  # the run is followed live (Scheduled, Pending, Running…)
    # wait_for watches the page itself (no retry back-off), so the time is the page's.
    completed = page.get_by_text(re.compile(r"train run \S+ — Completed"))
    completed.wait_for(timeout=FLOW_TIMEOUT)
    seen = time.monotonic() - clicked
    fitted = FITTED.search(page.get_by_test_id("stCode").last.inner_text())
    return seen, float(fitted.group(1)) if fitted else None


def test_train_promote_train_again_and_roll_back(
    page: Page, app_url: str, report_time: Callable[[str, float], None]
) -> None:
    page.goto(f"{app_url}/Dataset")
    initialize = page.get_by_role("button", name=re.compile(r"Initialize"))
    if initialize.is_enabled():
        initialize.click()
    expect(metric(page, "Stage")).not_to_have_text("0 %")

    seen, fit = train(page, app_url, auto_promote=False)
    report_time("click → Completed on the page (first run)", seen)
    if fit is not None:
        report_time("… of which the fit", fit)
    runs = page.get_by_test_id("stDataFrame").first
    expect(runs).to_contain_text(DEFAULT.classifier)
    expect(
        page.get_by_text(re.compile(r"Promotion gate: passes — no champion yet"))
    ).to_be_visible()
    page.get_by_role("button", name="Promote v1 to champion").click()
    expect(page.get_by_text(re.compile(r"Champion is now v1 \(promote"))).to_be_visible()

    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"Champion$"))).to_be_visible()
    expect(page.get_by_text("v1", exact=True)).to_be_visible()  # the champion card's value

    # Same data and settings: ties pass the gate; this run promotes and the API reloads too.
    seen, fit = train(page, app_url, auto_promote=True)
    report_time("click → Completed on the page (second run, promoted)", seen)
    if fit is not None:
        report_time("… of which the fit", fit)
    expect(page.get_by_text("v2 is the champion.")).to_be_visible()
    page.get_by_role("button", name=re.compile("Rollback")).click()
    page.get_by_role("button", name="Yes, roll back").click()
    expect(page.get_by_text(re.compile(r"Champion is now v1 \(rollback"))).to_be_visible()
    log = page.get_by_test_id("stDataFrame").last
    expect(log).to_contain_text("rollback")
    expect(log).to_contain_text("promote")


def test_predict_with_the_champion_and_give_feedback(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/Predictions")
    expect(page.get_by_text(re.compile(r"Serving v1 of the registry model"))).to_be_visible()
    page.get_by_label("Product title (designation)").fill("Piscine tubulaire ronde 3,66 x 0,76 m")
    page.get_by_role("button", name="Predict", exact=True).click()
    names = "|".join(re.escape(c.label_en) for c in CATEGORIES)
    expect(metric(page, "Predicted category")).to_have_text(re.compile(rf"^({names})$"))
    expect(metric(page, "Served model")).to_have_text("v1")
    expect(page.get_by_text("Top 5 categories")).to_be_visible()  # the plotly chart's title

    page.get_by_test_id("stSelectbox").filter(has_text="True category").click()
    page.keyboard.type("Garden furniture")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Save feedback").click()
    expect(page.get_by_text(re.compile(r"Feedback saved: 2582 · Garden furniture"))).to_be_visible()

    page.get_by_role("tab", name="History & feedback").click()
    expect(metric(page, "With feedback")).to_have_text("1")
    history = page.get_by_test_id("stDataFrame").last
    expect(history).to_contain_text("Piscine tubulaire ronde")
    expect(history).to_contain_text("2582 · Garden furniture")

    page.goto(app_url)
    expect(page.get_by_text("v1 = champion")).to_be_visible()  # Home: served matches champion


def test_simulate_drifted_traffic_and_see_the_drift_report(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/Monitoring")
    expect(page.get_by_role("heading", name="Traffic simulator")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Drift to inject").click()
    page.keyboard.type("summer wave")
    page.keyboard.press("Enter")
    page.get_by_role("spinbutton", name="Predictions").fill("300")
    page.get_by_role("button", name="Send traffic").click()
    expect(page.get_by_text(re.compile(r"Sent 300 predictions \(summer wave"))).to_be_visible()

    page.get_by_role("button", name="Run drift check now").click()
    panel = page.get_by_text(re.compile(r"monitor run \S+ — \w+"))
    expect(panel).to_be_visible()  # followed live while it runs
    expect(panel).to_contain_text("— Completed", timeout=FLOW_TIMEOUT)
    expect(metric(page, "Verdict")).to_have_text("drift")
    # Evidently's own report, one frame down: sandboxed to scripts only (an opaque origin).
    report = page.frame_locator('[data-testid="stIFrame"]').frame_locator("iframe").locator("body")
    expect(report).to_contain_text("predicted_code", timeout=60_000)  # Evidently's own report

    page.goto(app_url)
    expect(page.get_by_text(re.compile(r"^drift · \d+%$"))).to_be_visible()  # Home's card


def reload_until(page: Page, locator, timeout_s: float = 90.0) -> None:
    """Reload the page until ``locator`` shows: what the API and its writers do in the background
    (the next alias check, the shadow's rows) reaches a page at its next run."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            expect(locator).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def test_a_challenger_in_shadow_is_compared_live_and_promoted_from_there(
    page: Page, app_url: str
) -> None:
    # Trained without promoting: v3 is @challenger, and the API scores live traffic with it.
    train(page, app_url, auto_promote=False)
    page.goto(f"{app_url}/Predictions")
    reload_until(page, page.get_by_text(re.compile(r"challenger v3 scores 100% of requests")))

    # Why this category: the words that counted, highlighted in the title.
    title = "Piscine tubulaire ronde 3,66 x 0,76 m"
    page.get_by_label("Product title (designation)").fill(title)
    page.get_by_role("button", name="Predict", exact=True).click()
    expect(page.get_by_role("heading", name="Why this category")).to_be_visible()
    shown = page.get_by_test_id("stMarkdownContainer").filter(has_text="Title:")
    highlighted = shown.locator("span").filter(has_text=re.compile(r"^\S+$"))
    expect(highlighted.first).to_be_visible()
    words = highlighted.all_inner_texts()
    assert words and all(word in title for word in words)
    colours = highlighted.evaluate_all(
        "spans => spans.map(s => getComputedStyle(s).backgroundColor)"
    )
    assert all(c not in ("rgba(0, 0, 0, 0)", "transparent") for c in colours), colours
    page.get_by_role("button", name="Save feedback").click()  # its predicted category is right
    expect(
        page.get_by_text(re.compile(r"Feedback saved: .* the prediction was correct"))
    ).to_be_visible()

    # Live traffic, scored by both.
    page.goto(f"{app_url}/Monitoring")
    page.get_by_role("spinbutton", name="Predictions").fill("200")
    page.get_by_role("button", name="Send traffic").click()
    expect(page.get_by_text(re.compile(r"Sent 200 predictions"))).to_be_visible()

    # The live comparison, beside the gate, then the promotion from it.
    page.goto(f"{app_url}/Training")
    expect(page.get_by_text("Live comparison: v3 against the champion")).to_be_visible()
    reload_until(page, metric(page, "Labelled requests").filter(has_text=re.compile(r"^[1-9]")))
    expect(metric(page, "Agreement")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.get_by_text("Where they disagree most")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Live evidence: on \d+ labelled request"))).to_be_visible()
    page.get_by_role("button", name="Promote v3 to champion").click()
    expect(page.get_by_text(re.compile(r"Champion is now v3 \(promote"))).to_be_visible()
