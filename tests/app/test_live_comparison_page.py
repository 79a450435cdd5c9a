"""The Training page's live comparison and Home's shadow card, over rows the API would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import app.bootstrap
from app.managers.database import Database
from core.access import Actor, Role
from core.db.engine import ensure_schema
from core.registry import CHALLENGER, CHAMPION
from core.shadow.canary import canary_share
from tests.app.conftest import REPO_ROOT, button, metric, run_page
from tests.fakes_serving import FakeModelStore, FakePredictor
from tests.shadow_rows import log

POOL, BOOK = 2583, 10
VIEWER = Actor("u-vera", "oidc", Role.VIEWER)
TRAINING = REPO_ROOT / "app" / "pages" / "3_Training.py"
HOME = REPO_ROOT / "app" / "Home.py"


def shadow_traffic(database: Database, fake_store: FakeModelStore) -> None:
    """v1 champion, v2 challenger in shadow: 4 requests in the last hour, 3 of them labelled."""
    fake_store.add_run(0.80)
    fake_store.add_run(0.82)
    fake_store.set_alias(CHAMPION, 1)
    fake_store.set_alias(CHALLENGER, 2)
    start = datetime.now(UTC) - timedelta(minutes=30)
    engine = database.engine
    ensure_schema(engine)
    log(engine, "a", (POOL, 0.9, 1), (POOL, 0.8, 2), truth=POOL, start=start)
    log(engine, "b", (POOL, 0.6, 1), (BOOK, 0.9, 2), truth=BOOK, start=start, minutes=1)
    log(engine, "c", (BOOK, 0.7, 1), (BOOK, 0.7, 2), truth=BOOK, start=start, minutes=2)
    log(engine, "d", (POOL, 0.7, 1), (BOOK, 0.6, 2), start=start, minutes=3)


def test_the_challenger_is_compared_live_beside_the_gate(
    database: Database, fake_store: FakeModelStore
) -> None:
    shadow_traffic(database, fake_store)
    at = run_page(TRAINING)
    assert not at.exception and not at.error
    assert metric(at, "Agreement") == "50.0%"
    assert metric(at, "Champion accuracy (live)") == "66.7%"
    assert metric(at, "Challenger accuracy (live)") == "100.0%"
    assert any("Where they disagree most" in m.value for m in at.markdown)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Agreement per class" in c for c in charts)
    # The holdout gate decides; the live evidence stands beside it, a small sample said as such.
    (gate,) = [s.value for s in at.success if s.value.startswith("Promotion gate")]
    assert "F1 0.8200 ≥ v1 F1 0.8000" in gate
    assert "Live evidence: on 3 labelled request(s)" in gate and "too few labels" in gate


def test_without_shadow_traffic_the_panel_says_how_to_get_some(
    database: Database, fake_store: FakeModelStore
) -> None:
    fake_store.add_run(0.80)
    fake_store.add_run(0.82)
    fake_store.set_alias(CHAMPION, 1)
    at = run_page(TRAINING)
    assert not at.exception
    assert any("No request has both answers yet" in i.value for i in at.info)


def test_home_has_a_shadow_card_while_a_challenger_is_registered(
    database: Database, fake_store: FakeModelStore
) -> None:
    at = run_page(HOME)
    assert not any("Challenger in shadow" in c.value for c in at.caption)
    shadow_traffic(database, fake_store)
    at = run_page(HOME)
    assert not at.exception
    assert any("v2 · 50% agreement" in m.value for m in at.markdown)
    assert any("4 requests (24 h) · 3 labelled" in c.value for c in at.caption)


def test_an_admin_sets_a_canary_share_for_the_challenger_and_the_api_hears_it(
    database: Database, fake_store: FakeModelStore, fake_predictor: FakePredictor
) -> None:
    shadow_traffic(database, fake_store)
    at = run_page(TRAINING)
    assert any("**Canary:** off" in m.value for m in at.markdown)
    at.slider(key="canary_percent").set_value(20).run()
    button(at, "Yes, apply").click().run()
    assert not at.exception and not at.error
    assert "Canary set to 20% of live requests: the API applies it now." in at.success[0].value
    assert fake_predictor.reload_waits[-1] is False  # asked, not waited for
    assert any("answers **20%** of live requests" in m.value for m in at.markdown)
    with database.engine.connect() as conn:
        assert canary_share(conn).share == 0.2


def test_a_viewer_sees_the_canary_control_disabled_with_the_reason(
    database: Database, fake_store: FakeModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow_traffic(database, fake_store)
    monkeypatch.setattr(app.bootstrap, "current_actor", lambda: VIEWER)
    at = run_page(TRAINING)
    slider = at.slider(key="canary_percent")
    assert slider.disabled and "needs the admin role" in (slider.help or "")
