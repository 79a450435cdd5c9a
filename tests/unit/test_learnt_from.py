"""What a model learnt from, and what a new snapshot holds that it did not: the monitor flow's
reason to retrain (or not), read back from a run's MLflow params and tags."""

from __future__ import annotations

import pytest

from core.data.feedback import EMPTY_DIGEST, LearntFrom
from core.tracking import learnt_from_run, learnt_from_text

LOADED, MORE = "a" * 64, "b" * 64
FEEDBACK, OTHER = "c" * 64, "d" * 64
V1 = LearntFrom(31_050, LOADED, 0)


@pytest.mark.parametrize(
    ("now", "news"),
    [
        (LearntFrom(31_050, LOADED, 0), ""),
        (LearntFrom(31_050, LOADED[:16], 0), ""),  # an MLflow param keeps 16 characters
        (LearntFrom(31_050, LOADED, 212, FEEDBACK), "+212 feedback"),
        (LearntFrom(33_378, MORE, 0), "+2,328 loaded"),
        (LearntFrom(33_378, MORE, 5, FEEDBACK), "+2,328 loaded, +5 feedback"),
        (LearntFrom(31_050, MORE, 0), "other loaded products"),  # re-imported: other products
        (LearntFrom(0, "", 0), "−31,050 loaded"),  # unknown: never "the same"
    ],
)
def test_news_since_the_champion(now: LearntFrom, news: str) -> None:
    assert now.news_since(V1) == news


def test_feedback_changed_at_the_same_count_is_news() -> None:
    before = LearntFrom(100, LOADED, 3, FEEDBACK)
    assert LearntFrom(100, LOADED, 3, OTHER).news_since(before) == "other feedback products"
    assert LearntFrom(100, LOADED, 1, OTHER).news_since(before) == "−2 feedback"


def test_a_run_is_read_back_from_its_params_and_tags() -> None:
    params = {"data_rows": "31050", "data_digest": LOADED[:16], "feedback_rows": "212"}
    tags = {"data_digest": LOADED, "feedback_digest": FEEDBACK}
    assert learnt_from_run(params, tags) == LearntFrom(31_050, LOADED, 212, FEEDBACK)
    assert learnt_from_text(params) == "31,050 loaded + 212 feedback products"


def test_a_run_logged_before_feedback_learnt_from_none_and_shows_blank() -> None:
    params = {"data_rows": "31050", "data_digest": LOADED[:16]}  # no feedback params, no tags
    assert learnt_from_run(params, {}) == LearntFrom(31_050, LOADED[:16], 0, EMPTY_DIGEST)
    assert learnt_from_run(params, {}).news_since(V1) == ""  # so "nothing new" still holds
    assert learnt_from_text(params) is None
    assert learnt_from_run({}, {}).loaded_digest == ""
