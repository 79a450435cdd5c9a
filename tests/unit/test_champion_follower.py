"""The API's follower over the model store port: it serves the champion, swaps when the alias
moves, and keeps serving (saying why) when the store fails."""

from __future__ import annotations

from collections.abc import Sized

import numpy as np

from api.metrics import ApiMetrics
from api.model import ChampionFollower
from core.registry import CHAMPION
from tests.fakes_serving import FakeModelStore


class Constant:
    """A "pipeline" that always answers its one class."""

    def __init__(self, code: int) -> None:
        self.classes_ = np.array([code])

    def predict_proba(self, products: Sized) -> np.ndarray:
        return np.ones((len(products), 1))


def test_the_follower_serves_the_champion_and_keeps_it_when_the_store_fails() -> None:
    store = FakeModelStore()
    follower = ChampionFollower(store, ApiMetrics())
    assert not follower.check() and follower.current is None
    assert follower.last_error == "no champion yet: rakuten-product-classifier has no @champion"

    store.add_run(0.8)
    store.add_run(0.9)
    store.pipelines.update({1: Constant(2583), 2: Constant(10)})
    store.set_alias(CHAMPION, 1)
    assert follower.check() and follower.current is not None
    assert (follower.current.version, follower.current.names) == (1, ("Pools & accessories",))
    assert not follower.check()  # the alias did not move: nothing is loaded again

    store.set_alias(CHAMPION, 2)
    store.down = True
    assert not follower.check() and follower.current.version == 1
    assert follower.last_error == (
        "cannot resolve rakuten-product-classifier@champion: "
        "MLflow not reachable at http://mlflow.test (ConnectionError)"
    )
    store.down = False
    assert follower.check() and follower.current.version == 2 and follower.last_error is None

    store.add_run(0.95)  # v3, registered without a logged model
    store.set_alias(CHAMPION, 3)
    assert not follower.check() and follower.current.version == 2
    assert follower.last_error is not None and "cannot load" in follower.last_error


def test_while_it_loads_the_stale_reason_for_no_model_is_not_repeated() -> None:
    store = FakeModelStore()
    seen: list[str | None] = []

    def loader(source: FakeModelStore, ref):  # what /health would say during the load
        seen.append(follower.last_error)
        return store.pipelines[ref.version]

    follower = ChampionFollower(store, ApiMetrics(), loader=loader)
    follower.check()
    assert follower.last_error is not None and "no champion yet" in follower.last_error
    store.add_run(0.8)
    store.pipelines[1] = Constant(2583)
    store.set_alias(CHAMPION, 1)
    assert follower.check() and seen == [None]
