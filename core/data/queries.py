"""Read-only views of the data lifecycle: status, history, class mix, text statistics, products."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Select, func, or_, select

from core.data.categories import CATEGORIES
from core.data.feedback import EMPTY_DIGEST, LearntFrom, feedback_products, no_feedback
from core.data.loading import current_stage_bp
from core.data.store import catalogue_digest
from core.db.tables import dataset, holdout_products, load_history, loaded_products, source_pool

Scope = Literal["loaded", "pool", "holdout"]
_SCOPES = {"loaded": loaded_products, "pool": source_pool, "holdout": holdout_products}
HTML_PATTERNS: tuple[str, ...] = ("%<%>%", "%&%;%")


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """Where the data lifecycle stands; ``source`` is ``None`` before any import."""

    source: str | None
    imported_at: datetime | None
    pool_rows: int
    holdout_rows: int
    loaded_rows: int
    stage_bp: int
    last_load_at: datetime | None
    revision: int
    digest: str | None

    @property
    def share(self) -> float:
        """Loaded share of the pool, 0..1."""
        return self.loaded_rows / self.pool_rows if self.pool_rows else 0.0


@dataclass(frozen=True, slots=True)
class TextStats:
    """Length distributions and markup of product texts in one scope."""

    rows: int
    title_lengths: pd.Series
    description_lengths: pd.Series
    empty_description_share: float
    html_share: float


@dataclass(frozen=True)
class TrainingData:
    """What a training run learns from and is judged on, with the snapshot that names it.

    ``products`` are the loaded products (``digest`` names them); ``feedback`` the products people
    labelled on the Predictions page (:mod:`core.data.feedback`), never holdout products. A run
    fits on both (:attr:`training_frame`) and is judged on ``holdout`` alone.
    """

    products: pd.DataFrame
    holdout: pd.DataFrame
    stage_bp: int
    pool_rows: int
    digest: str
    feedback: pd.DataFrame = field(default_factory=no_feedback)
    feedback_digest: str = EMPTY_DIGEST
    feedback_held_out: int = 0  # labelled products left out: they are holdout products

    @property
    def loaded_share(self) -> float:
        """Loaded share of the pool, 0..1."""
        return len(self.products) / self.pool_rows if self.pool_rows else 0.0

    @property
    def training_frame(self) -> pd.DataFrame:
        """What a run fits on: the loaded products, then the feedback products."""
        if self.feedback.empty:
            return self.products
        return pd.concat([self.products, self.feedback], ignore_index=True)

    @property
    def learnt_from(self) -> LearntFrom:
        """The loaded and feedback products, counted and named by digest."""
        return LearntFrom(len(self.products), self.digest, len(self.feedback), self.feedback_digest)


@dataclass(frozen=True, slots=True)
class ProductPage:
    """One page of products matching a search, with the total number of matches."""

    products: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least one, even when nothing matches)."""
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True, slots=True)
class ExampleProduct:
    """A holdout product to try a prediction with, and its true category."""

    designation: str
    description: str
    prdtypecode: int


def dataset_status(conn: Connection) -> DatasetStatus:
    """The current dataset, loaded share and last load."""
    row = conn.execute(select(dataset)).mappings().one_or_none()
    loaded = conn.execute(select(func.count()).select_from(loaded_products)).scalar_one()
    last = conn.execute(select(func.max(load_history.c.loaded_at))).scalar_one()
    if row is None:
        return DatasetStatus(None, None, 0, 0, loaded, 0, _utc(last), 0, None)
    return DatasetStatus(
        source=row["source"],
        imported_at=_utc(row["imported_at"]),
        pool_rows=row["pool_rows"],
        holdout_rows=row["holdout_rows"],
        loaded_rows=loaded,
        stage_bp=current_stage_bp(conn),
        last_load_at=_utc(last),
        revision=row["revision"],
        digest=row["digest"],
    )


def training_data(conn: Connection) -> TrainingData:
    """Every loaded product, the feedback products and the whole holdout, in one transaction."""
    columns = ["productid", "designation", "description", "prdtypecode"]
    frames = [
        pd.DataFrame(
            conn.execute(select(*(t.c[c] for c in columns)).order_by(t.c.productid)).all(),
            columns=columns,
        )
        for t in (loaded_products, holdout_products)
    ]
    status = dataset_status(conn)
    feedback = feedback_products(conn, frames[1])
    return TrainingData(
        products=frames[0],
        holdout=frames[1],
        stage_bp=status.stage_bp,
        pool_rows=status.pool_rows,
        digest=catalogue_digest(frames[0]["productid"]),
        feedback=feedback.products,
        feedback_digest=feedback.digest,
        feedback_held_out=feedback.held_out,
    )


def load_history_frame(conn: Connection) -> pd.DataFrame:
    """Every load, oldest first, with the cumulative share of the pool in percent."""
    pool_rows = conn.execute(select(dataset.c.pool_rows)).scalar_one_or_none() or 0
    frame = pd.DataFrame(
        conn.execute(select(load_history).order_by(load_history.c.id)).mappings().all(),
        columns=[c.name for c in load_history.columns],
    ).astype({"id": "int64", "rows": "int64", "cumulative_rows": "int64", "target_bp": "int64"})
    frame["loaded_at"] = pd.to_datetime(frame["loaded_at"], utc=True)
    frame["cumulative_pct"] = (
        (100 * frame["cumulative_rows"] / pool_rows).round(2) if pool_rows else 0.0
    )
    return frame


def class_distribution(conn: Connection) -> pd.DataFrame:
    """Rows per category in the pool, loaded and holdout, with names, in code order."""
    frame = pd.DataFrame(
        {
            "code": [c.code for c in CATEGORIES],
            "category": [c.label_en for c in CATEGORIES],
            "label": [c.label for c in CATEGORIES],
        }
    )
    for name, table in _SCOPES.items():
        counts: dict[int, int] = dict(
            conn.execute(
                select(table.c.prdtypecode, func.count()).group_by(table.c.prdtypecode)
            ).all()
        )
        frame[name] = frame["code"].map(counts).fillna(0).astype(int)
    return frame


def text_stats(conn: Connection, scope: Scope = "loaded") -> TextStats:
    """Title/description lengths, empty-description and HTML shares in one scope."""
    table = _SCOPES[scope]
    has_html = or_(*(table.c.description.like(p) for p in HTML_PATTERNS))
    frame = pd.DataFrame(
        conn.execute(
            select(
                func.length(table.c.designation).label("title"),
                func.length(table.c.description).label("description"),
                has_html.label("html"),
            )
        ).all(),
        columns=["title", "description", "html"],
    )
    rows = len(frame)
    return TextStats(
        rows=rows,
        title_lengths=frame["title"].astype(int),
        description_lengths=frame["description"].astype(int),
        empty_description_share=float((frame["description"] == 0).mean()) if rows else 0.0,
        html_share=float(frame["html"].astype(bool).mean()) if rows else 0.0,
    )


def search_products(
    conn: Connection,
    *,
    text: str = "",
    code: int | None = None,
    scope: Scope = "loaded",
    page: int = 1,
    page_size: int = 25,
) -> ProductPage:
    """Products whose title or description contains ``text`` (any case), optionally of one code."""
    table = _SCOPES[scope]
    query: Select = select(*(table.c[n] for n in ("productid", "prdtypecode", "designation")))
    query = query.add_columns(table.c.description)
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where(
            or_(table.c.designation.ilike(pattern), table.c.description.ilike(pattern))
        )
    if code is not None:
        query = query.where(table.c.prdtypecode == code)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = min(max(1, page), max(1, -(-total // page_size)))
    rows = conn.execute(
        query.order_by(table.c.productid).limit(page_size).offset((page - 1) * page_size)
    ).all()
    products = pd.DataFrame(
        rows, columns=["productid", "prdtypecode", "designation", "description"]
    )
    return ProductPage(products, total, page, page_size)


def holdout_frame(conn: Connection) -> pd.DataFrame:
    """The whole holdout: designation, description, prdtypecode."""
    table = holdout_products
    rows = conn.execute(
        select(table.c.designation, table.c.description, table.c.prdtypecode).order_by(
            table.c.productid
        )
    ).all()
    return pd.DataFrame(rows, columns=["designation", "description", "prdtypecode"])


def example_products(conn: Connection, count: int = 6) -> list[ExampleProduct]:
    """The first holdout product (by id) of ``count`` categories spread over the 27."""
    step = max(1, len(CATEGORIES) // count)
    codes = [c.code for c in CATEGORIES[::step]][:count]
    table = holdout_products
    firsts = (
        select(func.min(table.c.productid))
        .where(table.c.prdtypecode.in_(codes))
        .group_by(table.c.prdtypecode)
    )
    rows = conn.execute(
        select(table.c.designation, table.c.description, table.c.prdtypecode)
        .where(table.c.productid.in_(firsts))
        .order_by(table.c.prdtypecode)  # the order of ``codes``: CATEGORIES is sorted by code
    ).all()
    return [ExampleProduct(row.designation, row.description, row.prdtypecode) for row in rows]


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is written in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
