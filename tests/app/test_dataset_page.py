"""The Dataset page drives the data lifecycle: import, initialize, next batch, reset, explore."""

from __future__ import annotations

from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from app.managers.database import Database
from app.managers.dataset import DatasetManager
from core.db.engine import make_engine
from core.settings import Settings, get_settings
from tests.app.conftest import ACTOR, REPO_ROOT, loaded
from tests.conftest import fresh_pg_database
from tests.tcp_proxy import TcpProxy

DATASET = str(REPO_ROOT / "app" / "pages" / "2_Dataset.py")


def page() -> AppTest:
    return AppTest.from_file(DATASET, default_timeout=60).run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def button(at: AppTest, prefix: str):
    return next(b for b in at.button if b.label.startswith(prefix))


def test_fresh_database_offers_the_import(app_settings) -> None:
    at = page()
    assert "No dataset yet" in at.info[0].value
    assert at.radio[0].value == "Built-in catalogue"
    button(at, "Import").click().run()
    assert not at.exception
    assert "Imported built-in catalogue (2,000 rows" in at.success[0].value
    assert metric(at, "Loaded share") == "0.0 %"


def test_initialize_then_next_batch_then_reset(dataset: DatasetManager) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    at = page()
    assert button(at, "Load next batch").disabled

    button(at, "Initialize").click().run()
    assert metric(at, "Stage") == "40 %"
    assert metric(at, "Loaded share").startswith(("40.", "41."))
    assert button(at, "Initialize").disabled

    button(at, "Load next batch").click().run()
    assert metric(at, "Stage") == "43 %"
    history = at.dataframe[0].value
    assert history["action"].tolist() == ["Next batch", "Initialize"]

    button(at, "Yes, unload everything").click().run()
    assert metric(at, "Products loaded") == "0"
    assert dataset.status().loaded_rows == 0
    # Every load was the page's, and the page acts as the local admin.
    assert set(dataset.history()["triggered_by"]) == {"local admin (local)"}


def test_a_stale_click_loads_nothing(dataset: DatasetManager) -> None:
    loaded(dataset)
    at = page()  # the person sees 40 %
    dataset.load_next_batch(ACTOR)  # someone else loads meanwhile (43 %)
    button(at, "Load next batch").click().run()
    assert "moved on from 40 % meanwhile" in at.success[0].value
    assert "(43 % stage)" in at.success[0].value
    assert dataset.status().stage_bp == 4_300


def test_next_batch_is_disabled_at_100_percent(dataset: DatasetManager) -> None:
    loaded(dataset)
    while dataset.status().stage_bp < 10_000:
        dataset.load_next_batch(ACTOR)
    at = page()
    assert metric(at, "Loaded share") == "100.0 %"
    assert button(at, "Load next batch").disabled


def test_replacing_the_dataset_needs_the_checkbox(dataset: DatasetManager) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    at = page()
    assert button(at, "Import").disabled
    at.checkbox(key="dataset_replace").check().run()
    at.number_input(key="dataset_builtin_rows").set_value(1_000).run()
    button(at, "Import").click().run()
    assert not at.exception
    assert dataset.status().source.startswith("built-in catalogue (1,000 rows")


def test_explorer_filters_by_text_and_category(dataset: DatasetManager) -> None:
    loaded(dataset)
    at = AppTest.from_file(DATASET, default_timeout=60)
    at.session_state["dataset_tab"] = "Product explorer"
    at.run()
    at.selectbox(key="dataset_search_code").select(2583).run()
    products = at.dataframe[-1].value
    assert len(products) > 0 and set(products["category"]) == {"2583 · Pools & accessories"}
    at.text_input(key="dataset_search").input("zzzz-nothing-matches").run()
    assert at.dataframe[-1].value.empty
    assert any("0 products" in c.value for c in at.caption)


X_FILE = (
    ",designation,description,productid,imageid\n"
    + "".join(f"{i},Piscine tubulaire {i},,{1000 + i},{i}\n" for i in range(30))
    + "".join(f"{30 + i},Roman policier tome {i},,{2000 + i},{i}\n" for i in range(30))
)
Y_FILE = ",prdtypecode\n" + "".join(f"{i},{2583 if i < 30 else 10}\n" for i in range(60))


def import_from_paths(at: AppTest, x: str, y: str) -> AppTest:
    at.radio(key="dataset_source").set_value("Challenge files on this machine").run()
    at.text_input[0].input(x).run()
    at.text_input[1].input(y).run()
    return button(at, "Import").click().run()


def test_challenge_files_from_paths(app_settings, tmp_path) -> None:
    (tmp_path / "X.csv").write_text(X_FILE, encoding="utf-8")
    (tmp_path / "Y.csv").write_text(Y_FILE, encoding="utf-8")
    at = import_from_paths(page(), str(tmp_path / "X.csv"), str(tmp_path / "Y.csv"))
    assert not at.exception and not at.error
    assert "Imported X.csv + Y.csv: 52 products in the pool, 8 in the fixed holdout" in (
        at.success[0].value
    )


def test_a_bad_file_is_refused_on_the_page_and_nothing_changes(
    dataset: DatasetManager, tmp_path
) -> None:
    loaded(dataset)
    before = dataset.status()
    (tmp_path / "X.csv").write_text(X_FILE, encoding="utf-8")
    (tmp_path / "Y.csv").write_text(Y_FILE.replace("\n5,2583\n", "\n5,9999\n"), encoding="utf-8")
    at = page()
    at.checkbox(key="dataset_replace").check().run()
    at = import_from_paths(at, str(tmp_path / "X.csv"), str(tmp_path / "Y.csv"))
    assert not at.exception
    assert "Y.csv, row 6: unknown prdtypecode 9999" in at.error[0].value
    assert dataset.status() == before


def test_a_missing_file_is_named(app_settings, tmp_path) -> None:
    at = import_from_paths(page(), str(tmp_path / "nope.csv"), str(tmp_path / "Y.csv"))
    assert "nope.csv: cannot be read (No such file or directory)" in at.error[0].value


def test_each_tab_renders_only_when_open(dataset: DatasetManager) -> None:
    loaded(dataset)
    for tab, shows in [
        ("Class distribution", lambda at: len(at.get("plotly_chart")) == 2),
        ("Text statistics", lambda at: metric(at, "Empty descriptions").endswith("%")),
        ("Product explorer", lambda at: "products · page 1 of" in at.main.caption[-1].value),
    ]:
        at = AppTest.from_file(DATASET, default_timeout=60)
        at.session_state["dataset_tab"] = tab
        at.run()
        assert not at.exception and shows(at), tab
    assert not any(m.label == "Empty descriptions" for m in at.metric)  # closed tab not computed


def test_replace_consent_is_for_one_import_only(dataset: DatasetManager) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    at = page()
    at.checkbox(key="dataset_replace").check().run()
    button(at, "Import").click().run()
    assert not at.checkbox(key="dataset_replace").value
    assert button(at, "Import").disabled


def test_a_new_search_starts_at_page_one(dataset: DatasetManager) -> None:
    loaded(dataset)
    at = AppTest.from_file(DATASET, default_timeout=60)
    at.session_state["dataset_tab"] = "Product explorer"
    at.run()
    at.number_input(key="dataset_page").set_value(5).run()
    assert "page 5 of" in at.main.caption[-1].value
    at.selectbox(key="dataset_search_code").select(2583).run()
    assert at.number_input(key="dataset_page").value == 1
    assert "page 1 of" in at.main.caption[-1].value


@pytest.mark.postgres
def test_a_database_lost_during_a_click_is_named_on_the_page_then_the_click_works(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_pg_database("rakuten_page") as url, TcpProxy(make_url(url).port or 5432) as proxy:
        monkeypatch.setenv("RAKUTEN_DATABASE_URL", proxy.url(url))
        get_settings.cache_clear()
        st.cache_resource.clear()  # the page builds its managers on the proxied database
        direct = make_engine(url)
        checked = DatasetManager(Database(direct), get_settings())
        loaded(checked)
        at = page()
        assert metric(at, "Stage") == "40 %"

        def cut(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.startswith("LOCK TABLE dataset"):  # the load's first statement
                proxy.set_mode("refuse")

        event.listen(Engine, "before_cursor_execute", cut)
        try:
            button(at, "Load next batch").click().run()
        finally:
            event.remove(Engine, "before_cursor_execute", cut)
        assert not at.exception
        assert at.error[0].value.startswith(
            f"Database not reachable at postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/"
        )
        assert checked.status().stage_bp == 4_000 and len(checked.history()) == 1

        proxy.set_mode("pass")
        button(at, "Load next batch").click().run()
        assert not at.exception and not at.error
        assert metric(at, "Stage") == "43 %"
        direct.dispose()
