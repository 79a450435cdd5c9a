"""Importing into real SQLite and PostgreSQL: all or nothing, holdout fixed and stratified."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.errors import Rejected, ServiceUnavailable
from core.access import Actor
from core.data import loading, queries, store
from core.data.importer import DataValidationError, NamedSource, read_labelled_csv
from core.data.store import DatasetExists, import_products, split_holdout
from core.db.engine import make_engine
from core.db.tables import dataset, holdout_products, load_history, loaded_products, source_pool
from core.settings import Settings

ACTOR = Actor.local_admin()


def manager_on(url: str) -> DatasetManager:
    return DatasetManager(Database(make_engine(url)), Settings(database_url=url))


def table_counts(engine: Engine) -> dict[str, int]:
    tables = (dataset, source_pool, holdout_products, loaded_products, load_history)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        }


def test_import_splits_a_stratified_holdout(engine: Engine, catalogue: pd.DataFrame) -> None:
    summary = import_products(
        engine, catalogue, source="t", holdout_fraction=0.15, seed=1, actor=ACTOR
    )
    assert summary.pool_rows + summary.holdout_rows == len(catalogue)
    with engine.connect() as conn:
        distribution = queries.class_distribution(conn)
        products = conn.execute(select(source_pool.c.designation, source_pool.c.description)).all()
    total = distribution["pool"] + distribution["holdout"]
    assert (distribution["holdout"] - (0.15 * total).round()).abs().max() <= 1
    # Text round-trips unchanged, empty descriptions stay "" (not NULL) on both backends.
    assert sorted(p.designation for p in products) == sorted(
        catalogue.set_index("productid").loc[
            [*set(catalogue["productid"]) - set(_holdout_ids(engine))], "designation"
        ]
    )
    assert any(p.description == "" for p in products)


def _holdout_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(holdout_products.c.productid)).scalars())


def test_split_ignores_file_order(catalogue: pd.DataFrame) -> None:
    a = split_holdout(catalogue, 0.15, seed=5)
    b = split_holdout(catalogue.sample(frac=1, random_state=1), 0.15, seed=5)
    pd.testing.assert_frame_equal(a.pool, b.pool)
    pd.testing.assert_frame_equal(a.holdout, b.holdout)
    assert set(a.pool["productid"]).isdisjoint(a.holdout["productid"])


def test_replacing_needs_consent_and_resets_loading(
    engine: Engine, catalogue: pd.DataFrame
) -> None:
    import_products(engine, catalogue, source="first", holdout_fraction=0.15, seed=1, actor=ACTOR)
    loading.initialize(engine, 4_000, ACTOR)
    before = table_counts(engine)
    with pytest.raises(DatasetExists):
        import_products(
            engine, catalogue, source="second", holdout_fraction=0.15, seed=1, actor=ACTOR
        )
    assert table_counts(engine) == before
    import_products(
        engine,
        catalogue.head(2_000),
        source="second",
        holdout_fraction=0.15,
        seed=1,
        actor=ACTOR,
        replace=True,
    )
    after = table_counts(engine)
    assert after["loaded_products"] == after["load_history"] == 0
    assert after["source_pool"] + after["holdout_products"] == 2_000


def test_an_import_failing_midway_changes_nothing(
    engine: Engine, catalogue: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_products(engine, catalogue, source="first", holdout_fraction=0.15, seed=1, actor=ACTOR)
    loading.initialize(engine, 4_000, ACTOR)
    before = table_counts(engine)
    real_insert = store._bulk_insert
    calls = []

    def insert_then_crash(conn, table, frame) -> None:
        real_insert(conn, table, frame)
        calls.append(table.name)
        if table is holdout_products:
            raise OSError("disk full")

    monkeypatch.setattr(store, "_bulk_insert", insert_then_crash)
    with pytest.raises(OSError, match="disk full"):
        import_products(
            engine,
            catalogue.head(1_000),
            source="x",
            holdout_fraction=0.15,
            seed=1,
            actor=ACTOR,
            replace=True,
        )
    assert calls == ["source_pool", "holdout_products"]
    assert table_counts(engine) == before


BAD_FILES = {
    "missing column": b"designation,productid,prdtypecode\nLivre,1,10\n",
    "unknown code": b"designation,description,productid,prdtypecode\nLivre,,1,10\nJeu,,2,99\n",
    "duplicate": b"designation,description,productid,prdtypecode\nLivre,,1,10\nJeu,,1,40\n",
    "empty designation": b"designation,description,productid,prdtypecode\n,,1,10\n",
    "not utf-8": b"designation,description,productid,prdtypecode\nCaf\xe9,,1,10\n",
}


@pytest.mark.parametrize("problem", BAD_FILES)
def test_bad_files_leave_the_database_unchanged(
    database_url: str, catalogue: pd.DataFrame, problem: str
) -> None:
    manager = manager_on(database_url)
    manager.import_builtin(1_000, actor=ACTOR)
    manager.initialize(ACTOR)
    before = (manager.status(), manager.history().to_dict("records"))
    with pytest.raises(Rejected, match=r"bad\.csv(, row \d+|: line \d+|: missing column)"):
        manager.import_files(NamedSource(BAD_FILES[problem], "bad.csv"), actor=ACTOR, replace=True)
    assert (manager.status(), manager.history().to_dict("records")) == before


def test_manager_reports_an_unreachable_database_readably() -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"
    manager = manager_on(url)
    with pytest.raises(
        ServiceUnavailable, match=r"Database not reachable at postgresql.*:1/nowhere"
    ):
        manager.status()


def test_manager_turns_refusals_into_rejected(database_url: str) -> None:
    manager = manager_on(database_url)
    with pytest.raises(Rejected, match="No dataset is imported"):
        manager.initialize(ACTOR)
    manager.import_builtin(1_000, actor=ACTOR)
    with pytest.raises(Rejected, match="already imported"):
        manager.import_builtin(1_000, actor=ACTOR)
    with pytest.raises(Rejected, match="Initialize first"):
        manager.load_next_batch(ACTOR)
    steps: list[str] = []
    manager.import_builtin(1_000, actor=ACTOR, replace=True, progress=steps.append)
    assert len(steps) == 2 and "Writing" in steps[1]
    with make_engine(database_url).connect() as conn:
        assert queries.dataset_status(conn).source.startswith("built-in catalogue (1,000 rows")


def _rows(*codes: int) -> bytes:
    lines = [f"Produit {i},,{i},{i},{code}" for i, code in enumerate(codes, start=1)]
    return "\n".join(["designation,description,productid,imageid,prdtypecode", *lines]).encode()


HOSTILE_FILES = {
    "nul byte": (
        _rows(10, 10, 10, 10).replace(b"Produit 3", b"Produit\x003"),
        "hostile.csv, row 3: designation contains a NUL byte",
    ),
    "cell over the api limit": (
        _rows(10, 10, 10, 10).replace(b"Produit 2,", b"Produit 2," + b"d" * 50_001),
        "hostile.csv, row 2: description has 50,001 characters",
    ),
    "duplicated header": (
        _rows(10, 10, 10, 10).replace(b"prdtypecode", b"prdtypecode,designation", 1),
        "hostile.csv: column designation appears more than once in the header",
    ),
    "class too small for the holdout": (
        _rows(10, 10, 10, 10, 10, 2583, 2583, 2583),
        "hostile.csv: category 2583 · Pools & accessories has 3 products; a 15 % holdout "
        "needs at least 4 per category",
    ),
    "one class only": (
        _rows(10, 10, 10, 10, 10),
        "hostile.csv: every product is in category 10 · Used books",
    ),
}


@pytest.mark.parametrize("problem", HOSTILE_FILES)
def test_hostile_files_are_refused_and_leave_the_database_unchanged(
    database_url: str, problem: str
) -> None:
    content, message = HOSTILE_FILES[problem]
    manager = manager_on(database_url)
    manager.import_builtin(1_000, actor=ACTOR)
    manager.initialize(ACTOR)
    before = (manager.status(), manager.history().to_dict("records"))
    with pytest.raises(Rejected) as caught:
        manager.import_files(NamedSource(content, "hostile.csv"), actor=ACTOR, replace=True)
    assert str(caught.value).startswith(message)
    assert (manager.status(), manager.history().to_dict("records")) == before


def test_a_catalogue_just_big_enough_for_the_holdout_is_imported(engine: Engine) -> None:
    frame = read_labelled_csv(_rows(10, 10, 10, 10, 2583, 2583, 2583, 2583))
    summary = import_products(engine, frame, source="t", holdout_fraction=0.15, seed=1, actor=ACTOR)
    assert (summary.pool_rows, summary.holdout_rows) == (6, 2)
    with pytest.raises(DataValidationError, match="needs at least 6 per category"):
        import_products(
            engine, frame, source="t", holdout_fraction=0.1, seed=1, actor=ACTOR, replace=True
        )
