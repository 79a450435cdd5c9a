"""Three people sign in through a real OpenID Connect provider and use the control room with the
role their ID token's ``groups`` claim gives them (RAKUTEN_ROLE_CLAIM), until an admin changes one.

The provider is oidc-provider-mock, the app runs as `make run` starts it, with an ``[auth]``
section pointing there (see ``signed_in_app``); each person has a browser context of their own and
signs in on the provider's own page. In file order, on one `make run`: the operator initializes,
trains and promotes through the gate but may not reset or force; the viewer sees those controls
disabled with the reason and still predicts; the admin forces a worse version past the gate, rolls
back, resets the data and makes the viewer an operator, whose next page load has the operator's
controls; the Audit view names who did what, and how it ended; no token ever reaches a page, and
signing out ends the session.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.access.actor import Role
from core.access.permissions import Action, why_not
from tests.browser.oidc import Person, SignInApp, open_desk, session_tokens, sidebar, sign_in

pytestmark = pytest.mark.browser
FLOW_TIMEOUT = 180_000  # a flow run: submission, fit, MLflow logging, registration
OPERATOR = Person("olga", "Olga Operator", "olga@example.org", ("ml-team", "operator"))
VIEWER = Person("vera", "Vera Viewer", "vera@example.org")  # no groups: RAKUTEN_DEFAULT_ROLE
ADMIN = Person("ada", "Ada Admin", "ada@example.org", ("admin",))
# The app's own words for a control a role may not use (core.access.permissions).
NEEDS_OPERATOR = why_not(Role.VIEWER, Action.TRAIN)  # "needs the operator role"
NEEDS_ADMIN = why_not(Role.OPERATOR, Action.RESET)  # "needs the admin role"

Desk = Callable[[Person], Page]


@pytest.fixture(scope="module")
def desk(browser: Browser, signed_in_app: SignInApp) -> Iterator[Desk]:
    """Each person's own browser context, signed in on first use and kept for the module, so a
    later test sees the same session (the same identity cookie) on its next page load."""
    pages: dict[str, Page] = {}
    for person in (OPERATOR, VIEWER, ADMIN):
        signed_in_app.provider.register(person)
    # Three people's pages at once on a small machine: patient, not flaky.
    expect.set_options(timeout=60_000)

    def page_of(person: Person) -> Page:
        if person.sub not in pages:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            pages[person.sub] = open_desk(context)
            sign_in(pages[person.sub], signed_in_app.url, person)
        return pages[person.sub]

    yield page_of
    for page in pages.values():
        page.context.close()
    expect.set_options(timeout=30_000)  # the browser fixture's


def metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def button(within: Page | Locator, name: str | re.Pattern[str]) -> Locator:
    return within.get_by_role("button", name=name)


def expect_refused(page: Page, control: Locator, reason: str | None) -> None:
    """The control is there, disabled, and says why when the pointer rests on it."""
    assert reason
    expect(control).to_be_disabled()
    tooltip = page.get_by_test_id("stTooltipContent")
    for _ in range(5):  # a page still drawing (charts, tables) may re-render under the pointer
        control.hover()
        try:
            expect(tooltip).to_have_text(reason, timeout=5_000)
            break
        except AssertionError:
            page.mouse.move(0, 0)
    expect(tooltip).to_have_text(reason)
    page.mouse.move(0, 0)
    expect(tooltip).to_have_count(0)


def confirm(page: Page, opener: str, answer: str) -> None:
    """Open a confirmation popover and answer it. A page still settling (a run that just ended
    reruns it) may redraw the popover shut under the pointer: open it again, as a person would."""
    for _ in range(5):
        button(page, opener).click()
        try:
            button(page, answer).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    button(page, opener).click()
    button(page, answer).click()


def train(
    page: Page, app_url: str, *, c: float | None = None, vocabulary: int | None = None
) -> None:
    """Train from the Training page (no auto-promotion) and wait for the run to complete."""
    page.goto(f"{app_url}/Training")
    expect(page.get_by_role("heading", name="Train a model")).to_be_visible()
    for name, value in (("C (inverse", c), ("Word vocabulary", vocabulary)):
        if value is not None:
            page.get_by_role("spinbutton", name=re.compile(rf"^{re.escape(name)}")).fill(str(value))
            page.keyboard.press("Tab")
    checkbox = page.get_by_role("checkbox", name="Promote to champion if the gate passes")
    if checkbox.is_checked():
        page.get_by_text("Promote to champion if the gate passes").click()
    button(page, re.compile(r"Train$")).click()
    panel = page.get_by_text(re.compile(r"train run \S+ — \w+"))
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("— Completed", timeout=FLOW_TIMEOUT)


def test_the_operator_trains_and_promotes_but_may_not_reset_or_force(
    desk: Desk, signed_in_app: SignInApp
) -> None:
    page, url = desk(OPERATOR), signed_in_app.url
    expect(sidebar(page)).to_contain_text("Olga Operator · operator")  # from the groups claim
    expect(sidebar(page)).to_contain_text("olga@example.org")

    page.goto(f"{url}/Dataset")
    button(page, re.compile("Initialize")).click()  # make run imported the catalogue
    expect(metric(page, "Stage")).to_have_text("40 %")
    expect(button(page, re.compile("Load next batch"))).to_be_enabled()
    expect_refused(page, button(page, "Reset…"), NEEDS_ADMIN)

    train(page, url)
    expect(page.get_by_text("Promotion gate: passes — no champion yet")).to_be_visible()
    button(page, "Promote v1 to champion").click()
    expect(page.get_by_text(re.compile(r"Champion is now v1 \(promote"))).to_be_visible()
    expect_refused(page, button(page, "Force…"), NEEDS_ADMIN)
    expect_refused(page, button(page, "Rollback…"), NEEDS_ADMIN)


def test_the_viewer_sees_why_controls_are_disabled_and_still_predicts(
    desk: Desk, signed_in_app: SignInApp
) -> None:
    page, url = desk(VIEWER), signed_in_app.url
    expect(sidebar(page)).to_contain_text("Vera Viewer · viewer")  # no groups: the default role

    page.goto(f"{url}/Dataset")
    expect(metric(page, "Stage")).to_have_text("40 %")
    expect_refused(page, button(page, re.compile("Load next batch")), NEEDS_OPERATOR)
    expect_refused(page, button(page, "Reset…"), NEEDS_ADMIN)

    page.goto(f"{url}/Training")
    expect(page.get_by_role("heading", name="Train a model")).to_be_visible()
    expect_refused(page, button(page, re.compile(r"Train$")), NEEDS_OPERATOR)
    expect_refused(page, button(page, "Rollback…"), NEEDS_ADMIN)

    page.goto(f"{url}/Infrastructure")
    expect(page.get_by_role("heading", name="Control a service")).to_be_visible()
    expect_refused(page, button(page, re.compile(r"Restart \w+…")), NEEDS_OPERATOR)
    expect_refused(page, button(page, re.compile(r"Stop \w+…")), NEEDS_ADMIN)

    page.goto(f"{url}/Predictions")
    expect(page.get_by_text(re.compile(r"Serving v1 of the registry model"))).to_be_visible(
        timeout=60_000
    )
    page.get_by_label("Product title (designation)").fill("Piscine tubulaire ronde 3,66 x 0,76 m")
    button(page, "Predict").click()
    expect(metric(page, "Served model")).to_have_text("v1")
    expect_refused(page, button(page, "Save feedback"), NEEDS_OPERATOR)


def test_the_admin_forces_rolls_back_resets_and_makes_the_viewer_an_operator(
    desk: Desk, signed_in_app: SignInApp
) -> None:
    page, url = desk(ADMIN), signed_in_app.url
    expect(sidebar(page)).to_contain_text("Ada Admin · admin")

    train(page, url, c=0.01, vocabulary=1_000)  # heavily regularised: worse than v1
    expect(page.get_by_text(re.compile(r"Promotion gate: refuses"))).to_be_visible()
    button(page, "Force…").click()
    page.get_by_label("Why promote despite the gate?").fill("checking the force path")
    page.keyboard.press("Tab")  # the text is the app's once the field loses focus
    button(page, "Force promotion").click()
    expect(page.get_by_text(re.compile(r"Champion is now v2 \(force"))).to_be_visible()
    confirm(page, "Rollback…", "Yes, roll back")
    expect(page.get_by_text(re.compile(r"Champion is now v1 \(rollback"))).to_be_visible()

    page.goto(f"{url}/Dataset")
    confirm(page, "Reset…", "Yes, unload everything")
    expect(metric(page, "Stage")).to_have_text("0 %")

    page.goto(f"{url}/Access")
    page.get_by_label("Person (subject or email)").fill(VIEWER.email)
    page.get_by_test_id("stSelectbox").filter(has_text="Role").click()
    page.get_by_role("option", name="operator", exact=True).click()
    button(page, "Assign role").click()
    expect(page.get_by_text(f"{VIEWER.email} is now operator.")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").last).to_contain_text(VIEWER.email)


def test_the_viewers_next_page_load_has_the_operators_controls(
    desk: Desk, signed_in_app: SignInApp
) -> None:
    page, url = desk(VIEWER), signed_in_app.url  # the same session as before: no new sign-in
    page.goto(f"{url}/Dataset")
    expect(sidebar(page)).to_contain_text("Vera Viewer · operator")
    button(page, re.compile("Initialize")).click()
    expect(metric(page, "Stage")).to_have_text("40 %")
    expect(button(page, re.compile("Load next batch"))).to_be_enabled()
    page.goto(f"{url}/Training")
    expect(button(page, re.compile(r"Train$"))).to_be_enabled()


def test_the_audit_view_names_who_did_what(desk: Desk, signed_in_app: SignInApp) -> None:
    page = desk(ADMIN)
    page.goto(f"{signed_in_app.url}/Audit")
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ entries \(newest first"))).to_be_visible()
    with page.expect_download() as download:
        button(page, "Download CSV").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = {
        (row["email"], row["role"], row["via"], row["action"], row["outcome"])
        for row in csv.DictReader(io.StringIO(text))
    }
    journey = [
        (OPERATOR, "operator", "initialize"),
        (OPERATOR, "operator", "train"),
        (OPERATOR, "operator", "promote"),
        (ADMIN, "admin", "train"),
        (ADMIN, "admin", "force_promote"),
        (ADMIN, "admin", "rollback"),
        (ADMIN, "admin", "reset"),
        (ADMIN, "admin", "manage_roles"),
        (VIEWER, "operator", "initialize"),  # after the admin made them one
    ]
    missing = [
        (person.email, role, action)
        for person, role, action in journey
        if (person.email, role, "oidc", action, "done") not in rows
    ]
    assert not missing, f"not in the audit trail: {missing}\n{text[:3000]}"
    keys = signed_in_app.secrets
    secret = [*session_tokens(page.context, keys.cookie_secret), keys.client_secret]
    assert not [s for s in secret if s in text], "a token or secret is in the audit trail"
    assert not any(email == VIEWER.email and role == "viewer" for email, role, *_ in rows)

    # "Who rolled back the champion?": the view's own filters answer it.
    page.get_by_test_id("stSelectbox").filter(has_text="Action").click()
    page.get_by_role("option", name="rollback", exact=True).click()
    expect(page.get_by_text(re.compile(r"^1 entry \(newest first"))).to_be_visible()
    table = page.get_by_test_id("stDataFrame")
    expect(table).to_contain_text(ADMIN.email)
    expect(table).not_to_contain_text(OPERATOR.email)


def test_no_token_reaches_a_page_and_signing_out_ends_the_session(
    desk: Desk, signed_in_app: SignInApp
) -> None:
    page, url, keys = desk(OPERATOR), signed_in_app.url, signed_in_app.secrets
    tokens = session_tokens(page.context, keys.cookie_secret)
    assert len(tokens) == 2, "expected Streamlit's cookie to hold the ID and access tokens"
    secret = [*tokens, keys.cookie_secret, keys.client_secret]
    # Home, a page showing flow-run parameters and MLflow runs, and the audit's parameters.
    for path, heading in (
        ("", "Rakuten MLOps Control Room"),
        ("/Training", "Runs"),
        ("/Audit", "Audit"),
    ):
        page.goto(f"{url}{path}")
        expect(sidebar(page)).to_contain_text("Olga Operator · operator")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        html = "".join(frame.content() for frame in page.frames)
        assert not [s for s in secret if s in html], f"a secret is in the HTML of {path or '/'}"

    button(sidebar(page), "Sign out").click()
    # The provider's end-session page (it keeps no session of its own), then back to the app.
    button(page, "End session").click()
    expect(page.get_by_text("Sign in to use the control room.")).to_be_visible()
    names = {c["name"] for c in page.context.cookies()}
    assert not {n for n in names if n.startswith("_streamlit_user")}, names
    page.reload()  # no silent sign-in: the identity cookie is gone
    expect(page.get_by_text("Sign in to use the control room.")).to_be_visible()
    page.goto(f"{url}/Dataset")
    expect(page.get_by_text("Sign in to use the control room.")).to_be_visible()
    expect(sidebar(page)).not_to_contain_text("Olga Operator")
    expect(page.get_by_role("heading", name="Dataset")).to_have_count(0)

    # Nor in the logs of anything make run started (the provider's own log is not ours).
    var_dir = keys.path.parent
    for log in [var_dir / "make-run.log", *sorted((var_dir / "logs").glob("*.log"))]:
        text = log.read_text(errors="replace")
        assert not [s for s in secret if s in text], f"a secret is in {log.name}"
