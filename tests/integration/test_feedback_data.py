"""Feedback as training data, on both backends: products people labelled on the Predictions page
join the next training snapshot, once per text with their latest mark, and never the holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.access import Actor, Role
from core.data import loading
from core.data.feedback import EMPTY_DIGEST
from core.data.queries import holdout_frame, training_data
from core.data.store import import_products
from core.inference_log import InferenceRecord, record_feedback, write_records

ANA = Actor("u-ana", "oidc", Role.OPERATOR, email="ana@example.com")
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
POOL = ("Piscine tubulaire Summer 4 m", "Filtre à sable inclus")
PARASOL = ("Parasol déporté 3 m", "")


@pytest.fixture
def loaded(engine: Engine, catalogue: pd.DataFrame) -> Engine:
    """The 3,000-product catalogue imported (15 % holdout) and loaded to 40 %."""
    admin = Actor.local_admin()
    import_products(engine, catalogue, source="t", holdout_fraction=0.15, seed=7, actor=admin)
    loading.initialize(engine, 4_000, admin)
    return engine


def predicted(engine: Engine, n: int, text: tuple[str, str], code: int = 1280) -> str:
    """A prediction of ``text`` as the API logs it; its request id."""
    request_id = f"req-{n}"
    at = T0 + timedelta(minutes=n)
    record = InferenceRecord(request_id, at, *text, code, 0.6, 1, 2.0, "predict")
    write_records(engine, [record])
    return request_id


def test_labelled_predictions_join_the_next_snapshot_never_the_holdout(loaded: Engine) -> None:
    with loaded.connect() as conn:
        before = training_data(conn)
        holdout = holdout_frame(conn)
    assert before.feedback.empty and before.feedback_digest == EMPTY_DIGEST
    assert before.learnt_from.describe() == f"{len(before.products):,} loaded + 0 feedback products"
    in_holdout = tuple(holdout.iloc[0][["designation", "description"]])
    record_feedback(loaded, predicted(loaded, 1, POOL), 2583, ANA)
    record_feedback(loaded, predicted(loaded, 2, PARASOL), 2582, ANA)
    record_feedback(loaded, predicted(loaded, 3, in_holdout), 10, ANA)  # a holdout product
    record_feedback(loaded, "req-never-logged", 40, ANA)  # its prediction never reached the log

    with loaded.connect() as conn:
        after = training_data(conn)
    labelled = set(after.feedback[["designation", "description", "prdtypecode"]].itertuples(False))
    assert labelled == {(*POOL, 2583), (*PARASOL, 2582)}
    assert after.feedback["productid"].isna().all()  # not catalogued products
    assert after.feedback_held_out == 1
    assert after.learnt_from.describe() == f"{len(after.products):,} loaded + 2 feedback products"
    assert after.feedback_digest != EMPTY_DIGEST
    # The run fits on loaded + feedback; it is judged on exactly the holdout table.
    training = after.training_frame
    assert len(training) == len(after.products) + 2
    assert {(*POOL, 2583), (*PARASOL, 2582)} <= set(
        training[["designation", "description", "prdtypecode"]].itertuples(False)
    )
    assert in_holdout not in set(training[["designation", "description"]].itertuples(False))
    assert after.holdout.equals(before.holdout)
    assert (after.products["productid"] == before.products["productid"]).all()


def test_the_same_product_counts_once_with_its_latest_mark(loaded: Engine) -> None:
    first, second, third = (predicted(loaded, n, POOL) for n in (1, 2, 3))
    record_feedback(loaded, second, 2582, ANA)
    record_feedback(loaded, first, 1302, ANA)
    record_feedback(loaded, third, 2583, ANA)  # the latest mark: the one it learns
    with loaded.connect() as conn:
        data = training_data(conn)
    assert data.feedback[["designation", "description", "prdtypecode"]].values.tolist() == [
        [*POOL, 2583]
    ]
    record_feedback(loaded, first, 2582, ANA)  # marked again, later: now the latest
    with loaded.connect() as conn:
        relabelled = training_data(conn)
    assert relabelled.feedback["prdtypecode"].tolist() == [2582]
    assert relabelled.feedback_digest != data.feedback_digest  # the same count, other feedback


def test_the_feedback_digest_names_the_set_not_its_order(loaded: Engine) -> None:
    parasol, pool = predicted(loaded, 1, PARASOL), predicted(loaded, 2, POOL)
    record_feedback(loaded, pool, 2583, ANA)
    record_feedback(loaded, parasol, 2582, ANA)
    with loaded.connect() as conn:
        one = training_data(conn)
        again = training_data(conn)
    assert one.feedback_digest == again.feedback_digest
    # The same labels marked in the other order (as on another database) name the same set.
    record_feedback(loaded, parasol, 2582, ANA)
    with loaded.connect() as conn:
        reordered = training_data(conn)
    assert reordered.feedback_digest == one.feedback_digest
    assert reordered.learnt_from.news_since(one.learnt_from) == ""
