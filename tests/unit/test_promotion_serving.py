"""Promote (or roll back), then have the API serve the new champion: the one implementation the
Training page and the train flow share, over fakes of the model store and the predictor API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.access import Actor
from core.db.engine import ensure_schema, make_engine
from core.promotion import PromotionRefused, promotion_log_frame
from core.registry import CHAMPION
from core.usecases.promotion import promote_and_serve, rollback_and_serve
from tests.fakes_serving import FakeModelStore, FakePredictor

ADMIN = Actor.local_admin()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'control_room.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store() -> FakeModelStore:
    store = FakeModelStore()
    store.add_run(0.80)
    store.add_run(0.85)
    return store


def test_a_promotion_is_logged_with_its_actor_and_served(
    engine: Engine, store: FakeModelStore
) -> None:
    api = FakePredictor()
    change = promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0)
    assert (change.promotion.action, change.promotion.to_version) == ("promote", 1)
    assert change.serving == "The API now serves v1."
    assert store.promoted == [1] and api.reloads == 1
    with engine.connect() as conn:
        assert promotion_log_frame(conn)["triggered_by"].tolist() == [ADMIN.label]


def test_an_api_that_has_not_switched_yet_says_what_it_serves(
    engine: Engine, store: FakeModelStore
) -> None:
    api = FakePredictor()  # serves v1 whatever the alias says
    promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0)
    change = promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0)
    assert change.serving == "The API still serves v1: it will switch soon."
    again = rollback_and_serve(store, api, engine, ADMIN)
    assert again.promotion.to_version == 1 and again.serving == "The API now serves v1."
    promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0)
    api.version, api.last_error = 3, "cannot load version 1: disk full"
    back = rollback_and_serve(store, api, engine, ADMIN)
    assert back.serving == "The API still serves v3: cannot load version 1: disk full."


def test_a_promotion_that_does_not_wait_says_the_api_is_loading_it(
    engine: Engine, store: FakeModelStore
) -> None:
    api = FakePredictor()  # serves v1 whatever the alias says
    change = promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0, wait_for_api=False)
    assert change.serving == "The API is loading v2 (it answers with v1 until then)."
    assert store.aliases[CHAMPION] == 2 and api.reload_waits == [False]


@pytest.mark.parametrize(
    ("api", "words"),
    [
        (FakePredictor(token=False), "did not reload (No RAKUTEN_API_TOKEN is set"),
        (FakePredictor(), "did not reload (Predictor API not reachable at http://api.test"),
    ],
    ids=["no token", "down"],
)
def test_an_api_that_cannot_reload_never_undoes_the_promotion(
    engine: Engine, store: FakeModelStore, api: FakePredictor, words: str
) -> None:
    api.down = words.endswith("http://api.test")
    change = promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0)
    assert words in change.serving and change.serving.endswith("it checks the alias on its own.")
    assert store.aliases[CHAMPION] == 2


def test_a_refused_promotion_asks_the_api_nothing(engine: Engine, store: FakeModelStore) -> None:
    api = FakePredictor()
    promote_and_serve(store, api, engine, 2, ADMIN, margin=0.0)
    with pytest.raises(PromotionRefused, match="gate refused: v1 F1 0.8000 < v2 F1 0.8500"):
        promote_and_serve(store, api, engine, 1, ADMIN, margin=0.0)
    assert store.promoted == [2] and api.reloads == 1
