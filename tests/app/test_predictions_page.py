"""The Predictions page and Home's served-model card, with a fake API writing to a real database."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.components.batch import BatchFileError, parse_batch_csv
from app.components.prediction_history import feedback_changes
from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.inference import InferenceManager
from core.registry import CHAMPION
from tests.app.conftest import ACTOR, REPO_ROOT
from tests.fakes_serving import FakeModelStore, FakePredictor

PREDICTIONS = str(REPO_ROOT / "app" / "pages" / "4_Predictions.py")
HOME = str(REPO_ROOT / "app" / "Home.py")


def page(path: str = PREDICTIONS) -> AppTest:
    return AppTest.from_file(path, default_timeout=60).run()


def button(at: AppTest, prefix: str):
    return next(b for b in at.button if b.label.startswith(prefix))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def champion(fake_store: FakeModelStore) -> None:
    fake_store.add_run(0.84)
    fake_store.set_alias(CHAMPION, 1)


def predict(at: AppTest, designation: str) -> AppTest:
    at.text_input(key="predict_designation").set_value(designation)
    return button(at, "Predict").click().run()


def test_a_prediction_shows_category_chart_version_and_latency(
    database: Database, champion: None
) -> None:
    at = predict(page(), "Piscine tubulaire ronde")
    assert not at.exception and not at.error
    assert metric(at, "Predicted category") == "Pools & accessories"
    assert metric(at, "Probability") == "90.0%"
    assert metric(at, "Served model") == "v1" and metric(at, "Latency") == "1.5 ms"
    chart = at.get("plotly_chart")[0].proto.spec
    assert "Pools & accessories (2583)" in chart and "Top 5 categories" in chart
    assert "Serving **v1**" in at.caption[0].value


def test_an_example_from_the_holdout_fills_the_form(
    dataset: DatasetManager, champion: None
) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    at = page()
    picker = at.selectbox(key="predict_example")
    assert len(picker.options) == 6
    picker.select_index(2).run()
    title = at.text_input(key="predict_designation").value
    assert title and title[:40] in picker.options[2]


def test_feedback_is_saved_and_counts_in_the_live_accuracy(
    inference: InferenceManager, champion: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.managers.inference")
    at = predict(page(), "Piscine hors-sol")
    true_category = next(s for s in at.selectbox if s.label == "True category")
    assert true_category.value == 2583  # the prediction is preselected
    true_category.set_value(2582)
    at = button(at, "Save feedback").click().run()
    assert not at.error
    assert "Feedback saved: 2582 · Garden furniture" in at.success[0].value
    assert at.success[0].value.endswith("the prediction was wrong (was Pools & accessories)")
    history = inference.predictions()
    assert list(history.true_code) == [2582] and list(history.predicted_code) == [2583]
    assert list(history.feedback_by) == ["local"]  # who gave it: the local admin's subject
    assert "local admin (local) marked" in caplog.text
    shown = at.dataframe[0].value  # the history tab's editor
    assert shown[["true_category", "feedback_by"]].values.tolist() == [
        ["2582 · Garden furniture", "local"]
    ]
    assert metric(at, "With feedback") == "1" and metric(at, "Live accuracy") == "0.0%"


def test_the_prediction_just_made_is_already_in_the_history(
    database: Database, champion: None, fake_predictor: FakePredictor
) -> None:
    fake_predictor.log_delay = 0.3  # like the API: the row lands a moment after the answer
    at = predict(page(), "Piscine ronde")
    assert metric(at, "Predictions") == "1"


def test_history_filters_by_category_and_text(
    database: Database, champion: None, fake_predictor: FakePredictor
) -> None:
    at = page()
    for title in ("Piscine ronde", "Livre de poche", "Piscine carrée"):
        at = predict(at, title)
    assert metric(at, "Predictions") == "3"
    at.selectbox(key="predict_filter_code").set_value(2583).run()
    assert metric(at, "Predictions") == "2"
    at.text_input(key="predict_filter_search").set_value("carrée").run()
    assert metric(at, "Predictions") == "1"


def test_api_down_is_a_readable_error_with_how_to_start_it(
    database: Database, fake_predictor: FakePredictor
) -> None:
    fake_predictor.down = True
    at = page()
    assert not at.exception
    message = at.error[0].value
    assert "Predictor API not reachable at http://api.test" in message and "make run" in message
    assert "Traceback" not in message
    at = predict(at, "Piscine")
    assert "the API is not serving a model" in at.error[-1].value
    assert metric(at, "Predictions") == "0"  # the history still works


def test_no_model_served_says_what_to_do(database: Database, fake_predictor: FakePredictor) -> None:
    fake_predictor.version = None
    fake_predictor.last_error = "no champion yet: train and promote a model"
    at = page()
    assert not at.exception and not at.error
    assert "serves no model: no champion yet" in at.warning[0].value
    assert "Promote a champion on the Training page" in at.warning[0].value


def test_a_version_served_from_the_local_copy_during_an_outage_is_flagged(
    database: Database, fake_predictor: FakePredictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page()
    assert not at.warning  # the registry answers: nothing to flag
    reason = "MLflow unreachable since 2026-11-30 12:00:00 UTC: serving the local copy of v1"
    outage = dataclasses.replace(
        fake_predictor.health(),
        last_error=reason,
        registry_unreachable_since=datetime(2026, 11, 30, 12, tzinfo=UTC),
        serving_local_copy=True,
    )
    monkeypatch.setattr(fake_predictor, "health", lambda: outage)
    at = page()
    assert not at.exception and not at.error
    assert "cannot reach the model registry (MLflow)" in at.warning[0].value
    assert reason in at.warning[0].value and "keeps serving v1" in at.warning[0].value


def test_a_champion_being_loaded_is_said_as_such(
    database: Database, fake_predictor: FakePredictor
) -> None:
    fake_predictor.version, fake_predictor.last_error = None, None  # between alias and load
    at = page()
    assert not at.exception and not at.error and not at.warning
    assert "is loading the champion" in at.info[0].value


def test_home_flags_a_served_version_that_is_not_the_champion(
    database: Database,
    fake_store: FakeModelStore,
    fake_predictor: FakePredictor,
) -> None:
    fake_store.add_run(0.84)
    fake_store.add_run(0.86)
    fake_store.set_alias(CHAMPION, 2)
    at = page(HOME)
    assert any("v1 ≠ champion v2" in m.value for m in at.markdown)
    fake_predictor.version = 2
    at = page(HOME)
    assert any("v2 = champion" in m.value for m in at.markdown)
    fake_predictor.down = True
    at = page(HOME)
    assert not at.exception and any("API unreachable" in c.value for c in at.caption)


def test_batch_csv_is_checked_before_anything_is_sent() -> None:
    good = parse_batch_csv(b"productid,designation\n1,Piscine\n2,Livre\n")
    assert list(good.columns) == ["productid", "designation", "description"]
    for data, words in [
        (b"title,description\nPiscine,\n", "needs a 'designation' column (found: title"),
        (b"designation,description\n", "no products"),
        (
            b"designation,description\nPiscine,a\n ,b\n",
            "1 row(s) have an empty designation (lines 3)",
        ),
        (b"\xff\xfe\x00\x00", "not a readable UTF-8 CSV"),
        (b"designation\n" + b"x\n" * 11, "11 rows is more than 10"),
    ]:
        with pytest.raises(BatchFileError, match=re.escape(words)):
            parse_batch_csv(data, limit=10)


def test_feedback_changes_are_the_edited_marks_only() -> None:
    shown = pd.DataFrame(
        {"request_id": ["a", "b", "c"], "true_category": [None, "10 · Used books", None]}
    )
    edited = shown.assign(true_category=["2583 · Pools & accessories", "10 · Used books", None])
    assert feedback_changes(shown, edited) == {"a": 2583}


def test_a_batch_csv_is_classified_shown_and_logged(
    inference: InferenceManager, champion: None
) -> None:
    at = page()
    upload = b"productid,designation\n1,Piscine ronde\n2,Livre de poche\n"
    at.file_uploader(key="predict_upload").set_value(("products.csv", upload, "text/csv")).run()
    at = button(at, "Predict all").click().run()
    assert not at.exception and not at.error
    assert "2 products of products.csv classified." in at.success[0].value
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["designation", "category", "code", "probability"]
    assert table["designation"].tolist() == ["Piscine ronde", "Livre de poche"]
    assert "productid" in table.columns  # other columns are kept
    assert any(d.label == "Download the predictions (CSV)" for d in at.get("download_button"))
    assert len(inference.predictions()) == 2  # every prediction lands in the history


def test_a_bad_batch_file_is_named_and_nothing_is_sent(
    inference: InferenceManager, champion: None
) -> None:
    at = page()
    upload = b"title\nPiscine\n"
    at.file_uploader(key="predict_upload").set_value(("**bold**.csv", upload, "text/csv")).run()
    at = button(at, "Predict all").click().run()
    assert not at.exception
    message = at.error[0].value
    assert message.startswith(r"\*\*bold\*\*.csv: the CSV needs a 'designation' column")
    assert len(inference.predictions()) == 0


def test_the_answer_says_why_with_the_words_highlighted(
    database: Database, champion: None, fake_predictor: FakePredictor
) -> None:
    at = predict(page(), "Piscine [tubulaire] ronde")
    assert not at.exception and not at.error
    assert "Why this category" in [h.value for h in at.subheader]
    title = next(m.value for m in at.markdown if m.value.startswith("**Title:**"))
    # Every word of the fake's title counts for the class; the brackets are shown, not parsed.
    assert ":green-background[Piscine]" in title
    assert ":green-background[\\[tubulaire\\]]" in title
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Predicted: 2583" in c for c in charts) and any("Runner-up: 10" in c for c in charts)
