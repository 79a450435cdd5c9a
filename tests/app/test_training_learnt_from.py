"""The Training page says what each run and version learnt from: loaded products and products
labelled through feedback; runs logged before feedback was training data show a blank."""

from __future__ import annotations

import json

import pandas as pd
from streamlit.testing.v1 import AppTest

from app.managers.dataset import DatasetManager
from tests.app.conftest import REPO_ROOT, run_page
from tests.fakes_serving import FakeModelStore

TRAINING = REPO_ROOT / "app" / "pages" / "3_Training.py"


def table_with(at: AppTest, column: str) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """The page's table holding ``column``: its data, the columns it shows in order (empty: all,
    as in the frame) and their headers."""
    found = [d for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, f"one table with {column!r}"
    config = json.loads(found[0].proto.columns)
    headers = {name: c["label"] for name, c in config.items() if "label" in c}
    return found[0].value, list(found[0].proto.column_order), headers


def test_runs_and_versions_say_what_they_learnt_from(
    dataset: DatasetManager, fake_store: FakeModelStore
) -> None:
    fake_store.add_run(0.80)  # logged before feedback was training data
    fake_store.add_run(0.82, feedback_rows=212)
    at = run_page(TRAINING)
    assert not at.exception

    runs, shown, headers = table_with(at, "feedback_rows")
    assert shown.index("feedback_rows") == shown.index("data_rows") + 1
    assert (headers["data_rows"], headers["feedback_rows"]) == ("Rows", "Feedback rows")
    assert runs["data_rows"].tolist() == [1000, 1000]
    assert runs["feedback_rows"].iloc[0] == 212 and pd.isna(runs["feedback_rows"].iloc[1])

    versions, _, headers = table_with(at, "learnt_from")
    assert headers["learnt_from"] == "Learnt from"
    assert versions["learnt_from"].iloc[0] == "1,000 loaded + 212 feedback products"
    assert versions["learnt_from"].iloc[1] is None
