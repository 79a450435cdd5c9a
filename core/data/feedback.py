"""Feedback as training data: the products people labelled on the Predictions page.

A prediction whose true category someone marked is a labelled product like a loaded one: its
text is in the inference log, its label in ``prediction_feedback``. The next training snapshot
learns from them, so a retrain after drift can learn what the traffic brought. Two rules keep
that honest:

- never the holdout's: a labelled product that is a holdout product (same title and description)
  is left out and counted, else the model would be trained on what it is judged on;
- one row per product: the same text predicted many times counts once, with its latest mark.

:class:`LearntFrom` names what a model learnt from (loaded products and feedback, each by
digest), so the monitor flow can tell whether a retrain would learn anything new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, select

from core.db.tables import inference_log, prediction_feedback

FEEDBACK_COLUMNS = ("productid", "designation", "description", "prdtypecode")
TEXT = ["designation", "description"]
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()  # the digest of "no feedback"


@dataclass(frozen=True)
class FeedbackProducts:
    """Labelled predictions fit for training, with the digest that names the set."""

    products: pd.DataFrame  # FEEDBACK_COLUMNS; productid is always <NA>: they are not catalogued
    digest: str
    held_out: int  # labelled products left out because they are holdout products


@dataclass(frozen=True, slots=True)
class LearntFrom:
    """What a model learnt from: the loaded products and the feedback products, by digest.

    A digest may be a prefix of the full one (MLflow params keep 16 characters); an empty one
    is not known, and differs from every other.
    """

    loaded_rows: int
    loaded_digest: str
    feedback_rows: int
    feedback_digest: str = EMPTY_DIGEST

    def describe(self) -> str:
        """``"31,050 loaded + 212 feedback products"``."""
        return describe_rows(self.loaded_rows, self.feedback_rows)

    def news_since(self, earlier: LearntFrom) -> str:
        """What this holds that ``earlier`` did not, e.g. ``"+212 feedback"``; ``""``: nothing.

        Counts alone do not decide: the same number of products can be other products (a
        re-import, a corrected mark), so the digests are compared and the counts only worded.
        """
        news = []
        if not _same(self.loaded_digest, earlier.loaded_digest):
            change = self.loaded_rows - earlier.loaded_rows
            news.append(_change(change, "loaded", "other loaded products"))
        if not _same(self.feedback_digest, earlier.feedback_digest):
            change = self.feedback_rows - earlier.feedback_rows
            news.append(_change(change, "feedback", "other feedback products"))
        return ", ".join(news)


def describe_rows(loaded: int, feedback: int) -> str:
    """``"31,050 loaded + 212 feedback products"`` (``+ 0 feedback`` when there is none)."""
    return f"{loaded:,} loaded + {feedback:,} feedback products"


def feedback_products(conn: Connection, holdout: pd.DataFrame) -> FeedbackProducts:
    """Every labelled prediction, once per text with its latest mark, minus holdout products.

    Feedback whose prediction has not reached the log (the API writes it in batches) or never
    will has no text to learn from: it is skipped.

    Args:
        conn: An open connection (the snapshot's transaction).
        holdout: The holdout, with ``designation`` and ``description``.

    Returns:
        The products to add to the loaded ones, their digest and how many were held out.
    """
    query = (
        select(
            inference_log.c.designation,
            inference_log.c.description,
            prediction_feedback.c.true_code,
        )
        .select_from(
            prediction_feedback.join(
                inference_log, inference_log.c.request_id == prediction_feedback.c.request_id
            )
        )
        # Oldest mark first, so keeping the last duplicate keeps the latest mark.
        .order_by(prediction_feedback.c.at, inference_log.c.id)
    )
    marked = pd.DataFrame(conn.execute(query).all(), columns=[*TEXT, "prdtypecode"])
    marked = marked.drop_duplicates(TEXT, keep="last")
    in_holdout = pd.MultiIndex.from_frame(marked[TEXT]).isin(
        pd.MultiIndex.from_frame(holdout[TEXT]) if len(holdout) else []
    )
    kept = marked[~in_holdout].sort_values(TEXT, ignore_index=True)
    products = kept.assign(
        productid=pd.array([pd.NA] * len(kept), dtype="Int64"),
        prdtypecode=kept["prdtypecode"].astype("int64"),
    )[list(FEEDBACK_COLUMNS)]
    return FeedbackProducts(products, feedback_digest(products), int(in_holdout.sum()))


def feedback_digest(products: pd.DataFrame) -> str:
    """SHA-256 of the (title, description, label) rows in text order: "exactly this feedback"."""
    digest = hashlib.sha256()
    rows = products[[*TEXT, "prdtypecode"]].itertuples(index=False)
    for designation, description, code in sorted(rows):
        digest.update(f"{designation}\x1f{description}\x1f{code}\x1e".encode())
    return digest.hexdigest()


def no_feedback() -> pd.DataFrame:
    """An empty feedback frame with the columns and types :func:`feedback_products` returns."""
    return pd.DataFrame(
        {
            "productid": pd.array([], dtype="Int64"),
            "designation": pd.Series([], dtype=object),
            "description": pd.Series([], dtype=object),
            "prdtypecode": pd.Series([], dtype="int64"),
        }
    )


def _same(digest: str, other: str) -> bool:
    # One side may be the 16-character prefix an MLflow param keeps.
    return bool(digest) and bool(other) and (digest.startswith(other) or other.startswith(digest))


def _change(delta: int, what: str, same_count: str) -> str:
    if delta > 0:
        return f"+{delta:,} {what}"
    if delta < 0:
        return f"−{-delta:,} {what}"
    return same_count
