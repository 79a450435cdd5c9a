"""Incremental loading against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import math
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from core.access import Actor
from core.data import loading, queries
from core.data.loading import FULL_BP, LoadRefused
from core.data.store import import_products
from core.db.tables import load_history, loaded_products, source_pool

INITIAL_BP, BATCH_BP = 4_000, 300
ACTOR = Actor.local_admin()


@pytest.fixture
def imported(engine: Engine, catalogue: pd.DataFrame) -> Engine:
    import_products(engine, catalogue, source="test", holdout_fraction=0.15, seed=3, actor=ACTOR)
    return engine


def loaded_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(loaded_products.c.productid)).scalars())


def snapshot(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        status = queries.dataset_status(conn)
        history_rows = conn.execute(select(func.count()).select_from(load_history)).scalar_one()
    return status.loaded_rows, status.stage_bp, history_rows


def assert_stratified(engine: Engine, stage_bp: int) -> None:
    """Each class holds ceil(p * n) of its n pool rows: within one row of the exact share."""
    with engine.connect() as conn:
        pool = dict(
            conn.execute(
                select(source_pool.c.prdtypecode, func.count()).group_by(source_pool.c.prdtypecode)
            ).all()
        )
        loaded = dict(
            conn.execute(
                select(loaded_products.c.prdtypecode, func.count()).group_by(
                    loaded_products.c.prdtypecode
                )
            ).all()
        )
    for code, size in pool.items():
        exact = size * stage_bp / FULL_BP
        assert abs(loaded.get(code, 0) - exact) < 1, (code, loaded.get(code), exact)
        assert loaded.get(code, 0) == math.ceil(size * stage_bp / FULL_BP)


def test_initialize_then_batches_are_stratified_up_to_exactly_100(imported: Engine) -> None:
    first = loading.initialize(imported, INITIAL_BP, ACTOR)
    assert first.action == "initialize" and first.target_bp == INITIAL_BP
    assert_stratified(imported, INITIAL_BP)
    stages = [INITIAL_BP]
    while stages[-1] < FULL_BP:
        result = loading.load_next_batch(imported, BATCH_BP, ACTOR)
        stages.append(result.target_bp)
        assert_stratified(imported, result.target_bp)
    assert stages == list(range(INITIAL_BP, FULL_BP + 1, BATCH_BP))
    with imported.connect() as conn:
        status = queries.dataset_status(conn)
    assert status.loaded_rows == status.pool_rows and status.share == 1.0
    with pytest.raises(LoadRefused, match=r"100 %"):
        loading.load_next_batch(imported, BATCH_BP, ACTOR)
    assert snapshot(imported)[2] == len(stages)


def test_batches_do_not_divide_100_stop_exactly_at_100(imported: Engine) -> None:
    loading.initialize(imported, 9_000, ACTOR)
    assert loading.load_next_batch(imported, 700, ACTOR).target_bp == 9_700
    result = loading.load_next_batch(imported, 700, ACTOR)
    assert result.target_bp == FULL_BP and result.cumulative_rows == result.pool_rows


def test_holdout_products_are_never_loaded(imported: Engine) -> None:
    loading.initialize(imported, FULL_BP, ACTOR)
    with imported.connect() as conn:
        status = queries.dataset_status(conn)
        holdout = set(
            queries.search_products(conn, scope="holdout", page_size=10**6).products["productid"]
        )
    assert status.loaded_rows == status.pool_rows
    assert holdout and not holdout & set(loaded_ids(imported))


def test_loads_are_idempotent(imported: Engine) -> None:
    loading.initialize(imported, INITIAL_BP, ACTOR)
    before = snapshot(imported)
    again = loading.initialize(imported, INITIAL_BP, ACTOR)
    assert again.rows == 0 and "Already initialized" in again.message
    assert snapshot(imported) == before

    loading.load_next_batch(imported, BATCH_BP, ACTOR, expected_bp=INITIAL_BP)
    after_one = snapshot(imported)
    stale = loading.load_next_batch(imported, BATCH_BP, ACTOR, expected_bp=INITIAL_BP)
    assert stale.rows == 0 and "meanwhile" in stale.message
    assert snapshot(imported) == after_one


def test_next_batch_before_initialize_is_refused(imported: Engine) -> None:
    with pytest.raises(LoadRefused, match="Initialize first"):
        loading.load_next_batch(imported, BATCH_BP, ACTOR)


def test_loading_without_a_dataset_is_refused(engine: Engine) -> None:
    with pytest.raises(LoadRefused, match="No dataset"):
        loading.initialize(engine, INITIAL_BP, ACTOR)


def test_reset_unloads_everything_and_is_recorded(imported: Engine) -> None:
    loading.initialize(imported, INITIAL_BP, ACTOR)
    result = loading.reset(imported, Actor.os_user())
    assert result.rows < 0 and loaded_ids(imported) == []
    assert snapshot(imported) == (0, 0, 2)
    with imported.connect() as conn:
        history = queries.load_history_frame(conn)
    # Each load names who asked for it.
    assert history["triggered_by"].tolist() == ["local admin (local)", Actor.os_user().label]
    assert loading.initialize(imported, INITIAL_BP, ACTOR).rows == -result.rows


@pytest.mark.parametrize("guarded", [True, False], ids=["double-click", "two-batches"])
def test_concurrent_loads_never_duplicate(imported: Engine, guarded: bool) -> None:
    loading.initialize(imported, INITIAL_BP, ACTOR)
    barrier = threading.Barrier(4)
    results: list[loading.LoadResult] = []
    errors: list[BaseException] = []

    def click() -> None:
        barrier.wait()
        try:
            expected = INITIAL_BP if guarded else None
            results.append(
                loading.load_next_batch(imported, BATCH_BP, Actor.schedule("thread"), expected)
            )
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    ids = loaded_ids(imported)
    assert len(ids) == len(set(ids))
    loads = [r for r in results if r.rows > 0]
    assert len(loads) == (1 if guarded else 4)
    with imported.connect() as conn:
        history = queries.load_history_frame(conn)
    # The history reads as if the loads had run one after the other.
    assert history["target_bp"].tolist() == [
        INITIAL_BP + BATCH_BP * i for i in range(len(loads) + 1)
    ]
    assert history["cumulative_rows"].tolist() == history["rows"].cumsum().tolist()
    assert history["cumulative_rows"].iloc[-1] == len(ids)
    assert_stratified(imported, history["target_bp"].iloc[-1])


def test_a_load_interrupted_midway_leaves_no_partial_batch(
    imported: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    loading.initialize(imported, INITIAL_BP, ACTOR)
    before, ids_before = snapshot(imported), sorted(loaded_ids(imported))

    def crash(*_args: object) -> None:
        raise RuntimeError("power cut after the products were inserted")

    monkeypatch.setattr(loading, "_finish", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        loading.load_next_batch(imported, BATCH_BP, ACTOR)
    assert snapshot(imported) == before
    assert sorted(loaded_ids(imported)) == ids_before
    monkeypatch.undo()
    assert loading.load_next_batch(imported, BATCH_BP, ACTOR).target_bp == INITIAL_BP + BATCH_BP


def test_an_import_waits_for_a_load_in_progress(
    imported: Engine, catalogue: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    loading.initialize(imported, INITIAL_BP, ACTOR)
    real_finish = loading._finish
    inside = threading.Event()

    def slow_finish(*args: object) -> None:
        inside.set()
        time.sleep(1.0)  # the load holds its transaction open while the import arrives
        real_finish(*args)

    monkeypatch.setattr(loading, "_finish", slow_finish)
    loader = threading.Thread(target=loading.load_next_batch, args=(imported, BATCH_BP, ACTOR))
    loader.start()
    assert inside.wait(timeout=30)
    replacement = catalogue.assign(productid=catalogue["productid"] + 10**12)
    import_products(
        imported,
        replacement,
        source="new",
        holdout_fraction=0.15,
        seed=3,
        actor=ACTOR,
        replace=True,
    )
    loader.join(timeout=60)
    with imported.connect() as conn:
        status = queries.dataset_status(conn)
        pool_ids = set(conn.execute(select(source_pool.c.productid)).scalars())
    # The import ran after the load committed and replaced everything: nothing old survives.
    assert status.source == "new" and status.loaded_rows == 0 and status.stage_bp == 0
    assert set(loaded_ids(imported)) <= pool_ids


def test_text_with_carriage_returns_and_quotes_round_trips(
    engine: Engine, catalogue: pd.DataFrame
) -> None:
    odd = catalogue.copy()
    # "zyxwé" appears in no generated text: the search below finds this row only.
    odd.loc[0, "designation"] = 'Lot "spécial zyxwé"\rde 3, avec ; et \\ et \ttab'
    odd.loc[0, "description"] = "ligne 1\r\nligne 2\n\n<b>fin</b>"
    import_products(engine, odd, source="odd", holdout_fraction=0.15, seed=3, actor=ACTOR)
    loading.initialize(engine, FULL_BP, ACTOR)
    with engine.connect() as conn:
        found = queries.search_products(conn, text="zyxwé", scope="loaded").products
        found = (
            found
            if len(found)
            else queries.search_products(conn, text="zyxwé", scope="holdout").products
        )
    assert found.loc[0, "designation"] == odd.loc[0, "designation"]
    assert found.loc[0, "description"] == odd.loc[0, "description"]
