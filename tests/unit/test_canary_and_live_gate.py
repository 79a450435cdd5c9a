"""The canary share (set, bounded, ended by a promotion or rollback) and the live gate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.access import Actor, PermissionDenied, Role
from core.db.engine import ensure_schema, make_engine
from core.promotion import PromotionRefused
from core.shadow.canary import canary_share, set_canary_share
from core.usecases.promotion import promote_and_serve, rollback_and_serve
from tests.fakes_serving import FakeModelStore, FakePredictor
from tests.shadow_rows import log

ADMIN = Actor.local_admin()
OPERATOR = Actor("u-olga", "oidc", Role.OPERATOR)
POOL, BOOK = 2583, 10


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'control_room.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store() -> FakeModelStore:
    """v1 champion (F1 0.80), v2 registered (0.85): the holdout gate lets v2 through."""
    store = FakeModelStore()
    store.add_run(0.80)
    store.add_run(0.85)
    return store


def share(engine: Engine) -> float:
    with engine.connect() as conn:
        return canary_share(conn, default=0.05).share


def test_the_share_is_set_by_an_admin_within_bounds(engine: Engine) -> None:
    assert share(engine) == 0.05  # nobody set it: the setting
    set_canary_share(engine, 0.2, ADMIN)
    with engine.connect() as conn:
        found = canary_share(conn)
    assert found.share == 0.2 and found.actor == ADMIN.label and found.at is not None
    with pytest.raises(ValueError, match="between 0 and 50%"):
        set_canary_share(engine, 0.8, ADMIN)
    with pytest.raises(PermissionDenied):
        set_canary_share(engine, 0.1, OPERATOR)
    assert share(engine) == 0.2  # neither changed it


def test_a_promotion_or_a_rollback_ends_the_canary(engine: Engine, store: FakeModelStore) -> None:
    api = FakePredictor()
    promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0)
    set_canary_share(engine, 0.1, ADMIN)
    promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0)
    assert share(engine) == 0.0
    with engine.connect() as conn:
        assert "promotion of v2" in canary_share(conn).actor
    set_canary_share(engine, 0.3, ADMIN)
    rollback_and_serve(store, api, engine, ADMIN)
    assert share(engine) == 0.0


def test_the_live_gate_asks_for_labelled_evidence_when_the_setting_does(
    engine: Engine, store: FakeModelStore
) -> None:
    api = FakePredictor()
    # The first champion needs no live evidence: there is nothing to compare it with.
    promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0, live_evidence=True)
    with pytest.raises(PromotionRefused, match="0 labelled request"):
        promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0, live_evidence=True)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(30):  # v2 right on all 30, the champion on 29
        truth = BOOK if i == 0 else POOL
        log(engine, f"r{i}", (POOL, 0.9, 1), (truth, 0.9, 2), truth=truth, start=start)
    change = promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0, live_evidence=True)
    assert change.promotion.to_version == 2


def test_the_live_gate_refuses_a_challenger_worse_on_feedback(
    engine: Engine, store: FakeModelStore
) -> None:
    api = FakePredictor()
    promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(30):  # the champion right on all 30, v2 wrong once
        log(
            engine,
            f"r{i}",
            (POOL, 0.9, 1),
            (BOOK if i == 0 else POOL, 0.9, 2),
            truth=POOL,
            start=start,
        )
    with pytest.raises(PromotionRefused, match="right on 29 of 30 .* < the champion's 30"):
        promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0, live_evidence=True)
    forced = promote_and_serve(
        store, api, engine, 2, ADMIN, margin=0.0, live_evidence=True, force_reason="a test"
    )
    assert forced.promotion.action == "force"
