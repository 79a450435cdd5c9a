"""Prefect down: every page renders in its usual time, and the buttons that need Prefect are shown
disabled with the reason, never hidden and never clickable into an error.

Prefect is the real adapter (:class:`PrefectRest`) in front of nothing: a proxy that refuses
connections (a stopped server: fast errors) or accepts them and never answers (a hung server or a
route that drops packets: each call would wait its timeout). The other services are the
conftest's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.managers.dataset import DatasetManager
from app.managers.flows import START_HINT
from core.adapters.flows import PrefectRest
from tests.app.conftest import PAGES, REPO_ROOT, button, loaded
from tests.ports import free_port
from tests.tcp_proxy import TcpProxy

HOME = REPO_ROOT / "app" / "Home.py"
TRAINING = REPO_ROOT / "app" / "pages" / "3_Training.py"
MONITORING = REPO_ROOT / "app" / "pages" / "5_Monitoring.py"
# The pages that never call Prefect: they must not start to.
OTHERS = [page for page in PAGES if page not in {HOME, TRAINING, MONITORING}]

READ_TIMEOUT = 6.0  # s an unanswered call waits for its answer
PROBE_TIMEOUT = 0.5  # s the quick health check a page asks first waits
# A page asks the quick health check first, then the rest: Home 1 call (recent runs), Training
# with a followed run 1 (its state), Monitoring with a followed run 2 (its state, the
# deployments). A hung Prefect may cost the probe; every other call must fail at once. Had any
# call waited for its answer, the page would take READ_TIMEOUT at least (one per call without
# the breaker: up to 2 x READ_TIMEOUT, plus the probe): that is the bound. The page's own
# rendering plus the probe (about 1 s) has the rest of it.
BOUND = READ_TIMEOUT


@pytest.fixture(params=["refuse", "stall"])
def outage(request: pytest.FixtureRequest) -> str:
    """How Prefect is down: ``refuse`` (stopped) or ``stall`` (accepts, never answers)."""
    return str(request.param)


@pytest.fixture
def prefect_server() -> Iterator[TcpProxy]:
    """Where the pages' Prefect is: a proxy in front of a closed port, refusing until a test
    says otherwise."""
    with TcpProxy(free_port()) as proxy:
        proxy.set_mode("refuse")
        yield proxy


@pytest.fixture
def fake_prefect(prefect_server: TcpProxy) -> PrefectRest:
    """Overrides the conftest's fake: the pages' flows manager runs over the real adapter."""
    return PrefectRest(
        f"http://127.0.0.1:{prefect_server.port}/api",
        timeout=READ_TIMEOUT,
        connect_timeout=READ_TIMEOUT,
        probe_timeout=PROBE_TIMEOUT,
    )


@pytest.fixture
def render(prefect_server: TcpProxy, outage: str) -> Callable[..., AppTest]:
    """Run a page with Prefect down as ``outage`` says, checking it renders within the bound.

    The page runs once first with Prefect refusing (a fast failure, not remembered): that run
    pays for what any first run does (building the managers, compiling the page). What is timed
    is the next run, after ``outage`` took effect: what the outage itself costs a page.
    """

    def run(page: Path, **session: str) -> AppTest:
        at = AppTest.from_file(str(page), default_timeout=60)
        for key, value in session.items():
            at.session_state[key] = value
        at.run(timeout=60)
        prefect_server.set_mode(outage)  # type: ignore[arg-type]
        start = time.monotonic()
        at.run(timeout=60)
        elapsed = time.monotonic() - start
        assert not at.exception, [e.value for e in at.exception]
        assert elapsed < BOUND, f"{page.stem} took {elapsed:.1f} s with Prefect down ({outage})"
        return at

    return run


def down_reason(prefect: PrefectRest) -> str:
    """How a page says Prefect is down: which server, then (the manager's hint) what to do."""
    return f"Prefect not reachable at {prefect.api_url} ("


def says_down(text: str | None, prefect: PrefectRest) -> bool:
    return bool(text) and down_reason(prefect) in str(text) and START_HINT in str(text)


@pytest.mark.parametrize("page", OTHERS, ids=[p.stem for p in OTHERS])
def test_pages_without_flows_render_as_usual(page: Path, app_settings, render) -> None:
    at = render(page)
    assert not any("Prefect" in e.value for e in at.error)


def test_home_names_prefect_on_its_card(app_settings, render, fake_prefect: PrefectRest) -> None:
    at = render(HOME)
    assert any(says_down(c.value, fake_prefect) for c in at.caption)
    assert not at.error  # the status strip says it; the page itself works


def test_training_disables_train_with_the_reason(
    dataset: DatasetManager, render, fake_prefect: PrefectRest
) -> None:
    loaded(dataset)  # so that Prefect is the only reason Train is off
    at = render(TRAINING, **{state.TRAINING_RUN_ID: "fr-followed"})
    train = button(at, "Train")
    assert train.disabled and says_down(train.help, fake_prefect)
    errors = [e.value for e in at.error]
    assert says_down(errors[0], fake_prefect)  # said once in the train box
    assert len(errors) == 2 and says_down(errors[1], fake_prefect)  # and in the followed run's
    assert "Runs" in [s.value for s in at.subheader]  # the MLflow part renders as usual


def test_monitoring_disables_its_flow_buttons_with_the_reason(
    database, render, fake_prefect: PrefectRest
) -> None:
    at = render(MONITORING, **{state.MONITOR_RUN_ID: "fr-followed"})
    for label in ("Run drift check now", "Run monitor-and-retrain now"):
        run_now = button(at, label)
        assert run_now.disabled and says_down(run_now.help, fake_prefect), label
    # The schedules cannot be read: the configured ones keep their button, disabled.
    for deployment in ("load-data/load-data", "monitor/monitor"):
        pause = at.button(key=f"pause-{deployment}")
        assert pause.disabled and says_down(pause.help, fake_prefect), deployment
    assert any("`0 9 * * *` (UTC)" in m.value for m in at.markdown)
    assert says_down(at.error[0].value, fake_prefect)
    assert not button(at, "Send traffic").disabled  # the API's part is not Prefect's
