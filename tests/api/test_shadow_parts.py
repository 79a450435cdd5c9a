"""The shadow's parts on their own: the challenger follower's rules, the bounded queue, the share,
yielding to requests in flight, and what happens to scored rows at shutdown.

Over :class:`~tests.fakes_serving.FakeModelStore` (v1 champion; v2 and v3 registered, v3 without a
model) and a real SQLite database; the API under uvicorn is ``test_shadow.py``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sized
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from api.activity import Activity
from api.challenger import ChallengerFollower
from api.metrics import ApiMetrics
from api.model import ChampionFollower
from api.schemas import Product
from api.shadow import Shadow
from core.db.engine import ensure_schema, make_engine
from core.db.tables import shadow_predictions
from core.registry import CHALLENGER, CHAMPION
from tests.fakes_serving import FakeModelStore


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Constant:
    """A "pipeline" that always answers its one class."""

    def __init__(self, code: int) -> None:
        self.classes_ = np.array([code])

    def predict_proba(self, products: Sized) -> np.ndarray:
        return np.ones((len(products), 1))


def fake_registry() -> tuple[FakeModelStore, ChampionFollower, ChallengerFollower]:
    store = FakeModelStore()
    for f1 in (0.8, 0.9, 0.95):
        store.add_run(f1)
    store.pipelines.update({1: Constant(2583), 2: Constant(10)})  # v3 has no model
    store.set_alias(CHAMPION, 1)
    store.delete_alias(CHALLENGER)  # registering made v3 the challenger
    metrics = ApiMetrics()
    champion = ChampionFollower(store, metrics)
    assert champion.check()
    return store, champion, ChallengerFollower(store, metrics, champion)


def test_the_challenger_is_followed_only_while_there_is_something_to_compare() -> None:
    store, _champion, challenger = fake_registry()
    assert not challenger.check() and challenger.current is None
    assert (
        challenger.idle_reason == "no challenger yet: rakuten-product-classifier has no @challenger"
    )
    assert challenger.last_error is None

    store.set_alias(CHALLENGER, 2)
    assert challenger.check() and challenger.current is not None
    assert challenger.current.version == 2 and challenger.idle_reason is None

    store.down = True  # the registry's silence keeps the version in hand
    assert not challenger.check() and challenger.current.version == 2
    assert "cannot resolve rakuten-product-classifier@challenger" in (challenger.last_error or "")
    store.down = False

    store.set_alias(CHALLENGER, 1)
    assert not challenger.check() and challenger.current is None
    assert (
        challenger.idle_reason == "the challenger (version 1) is the champion: nothing to compare"
    )

    store.set_alias(CHALLENGER, 3)  # registered without a loadable model
    assert not challenger.check() and challenger.current is None
    assert "cannot load rakuten-product-classifier version 3" in (challenger.last_error or "")
    assert challenger.idle_reason == challenger.last_error


def products(n: int) -> list[Product]:
    return [Product(designation=f"produit {i}", description=None) for i in range(n)]


def answered(
    champion: ChampionFollower, items: list[Product], ids: list[str], shadow: Shadow
) -> None:
    model = champion.current
    assert model is not None
    ranked = model.rank_texts([p.designation for p in items], [""] * len(items), 1)
    shadow.offer(model, items, ranked, ids)


def test_the_queue_is_bounded_and_never_waits(tmp_path: Path) -> None:
    store, champion, challenger = fake_registry()
    store.set_alias(CHALLENGER, 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    shadow = Shadow(challenger, engine, ApiMetrics(), share=1.0, max_queue=3, flush_seconds=0.05)
    assert shadow.check()
    ids = [f"r{i}" for i in range(5)]
    answered(champion, products(5), ids, shadow)  # not started: nothing is taken yet
    status = shadow.status()
    assert (status.queued, status.dropped["queue_full"]) == (3, 2)

    shadow.start()
    wait_for(lambda: shadow.status().written == 3)
    shadow.stop()
    with engine.connect() as conn:
        rows = conn.execute(select(shadow_predictions).order_by("request_id")).all()
    engine.dispose()
    assert [(r.request_id, r.predicted_code, r.model_version) for r in rows] == [
        ("r0", 10, 2),
        ("r1", 10, 2),
        ("r2", 10, 2),
    ]
    assert shadow.status().dropped["queue_full"] == 2


def test_only_the_share_is_shadowed_and_nothing_when_off(tmp_path: Path) -> None:
    store, champion, challenger = fake_registry()
    store.set_alias(CHALLENGER, 2)
    draws = iter([0.1, 0.9, 0.2, 0.8])
    engine = make_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    half = Shadow(challenger, engine, ApiMetrics(), share=0.5, sample=lambda: next(draws))
    assert half.check()
    answered(champion, products(4), ["a", "b", "c", "d"], half)
    assert half.status().queued == 2

    off = Shadow(ChallengerFollower(store, ApiMetrics(), champion), engine, ApiMetrics(), share=0)
    assert not off.check() and off.challenger.current is None  # not even loaded
    assert off.status().idle_reason == "shadow scoring is off (RAKUTEN_SHADOW_SHARE=0)"
    answered(champion, products(4), ["e", "f", "g", "h"], off)
    assert off.status().queued == 0
    engine.dispose()


def test_the_shadow_waits_while_a_request_is_in_flight(tmp_path: Path) -> None:
    store, champion, challenger = fake_registry()
    store.set_alias(CHALLENGER, 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    activity = Activity()
    shadow = Shadow(
        challenger, engine, ApiMetrics(), share=1.0, flush_seconds=0.05, activity=activity
    )
    assert shadow.check()
    shadow.start()
    activity.enter()  # a request is being answered
    answered(champion, products(2), ["x", "y"], shadow)
    time.sleep(0.3)
    assert (shadow.status().queued, shadow.status().scored) == (2, 0)
    activity.leave()
    wait_for(lambda: shadow.status().written == 2)
    shadow.stop()
    engine.dispose()


def test_at_shutdown_scored_rows_are_written_or_said_to_be_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, champion, challenger = fake_registry()
    store.set_alias(CHALLENGER, 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    ensure_schema(engine)

    def stopped_after_scoring(ids: list[str]) -> Shadow:
        shadow = Shadow(challenger, engine, ApiMetrics(), share=1.0, flush_seconds=60)
        shadow.check()
        assert shadow.status().challenger == 2
        shadow.start()
        answered(champion, products(len(ids)), ids, shadow)
        wait_for(lambda: shadow.status().scored == len(ids))
        assert shadow.status().written == 0  # pending: the next write is a minute away
        shadow.stop()
        return shadow

    assert stopped_after_scoring(["s1", "s2", "s3"]).status().written == 3
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_shadow BEFORE INSERT ON shadow_predictions "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    refused = stopped_after_scoring(["s4", "s5"])
    assert refused.status().dropped["write_failed"] == 2
    assert "2 scored predictions dropped at shutdown" in caplog.text
    with engine.connect() as conn:
        written = conn.execute(select(shadow_predictions.c.request_id)).scalars().all()
    engine.dispose()
    assert sorted(written) == ["s1", "s2", "s3"]
