"""The Predictions page's batch tab: the uploaded CSV, checked, its progress and its results."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from app import state
from app.components.text import inert
from core.data.export import to_safe_csv

MAX_BATCH_ROWS = 20_000
# A column name shown in a message: a plain word. Messages are Markdown, and a header is file
# content: a name like ``![x](http://…)`` would make the browser fetch the link.
PLAIN_NAME = re.compile(r"[\w -]{1,40}")


class BatchFileError(ValueError):
    """The uploaded file cannot be used for batch prediction; the message says why."""


def batch_upload(ready: bool) -> tuple[str, pd.DataFrame] | None:
    """The CSV upload and *Predict all*; returns the file's name and products when clicked and
    the file is usable (a bad file is reported here)."""
    st.caption(
        "A CSV with a `designation` column and optionally `description` (other columns are "
        "kept). Rows are sent to the API in chunks; every prediction lands in the history."
    )
    upload = st.file_uploader("Products to classify", type=["csv"], key=state.PREDICT_UPLOAD)
    if upload is None or not st.button("Predict all", type="primary", disabled=not ready):
        return None
    try:
        return upload.name, parse_batch_csv(upload.getvalue())
    except BatchFileError as exc:
        st.error(inert(f"{upload.name}: {exc}"))  # it quotes the file's name
        return None


def batch_progress(total: int) -> Callable[[int, int], object]:
    """A progress bar for ``total`` products, and the callback that moves it."""
    bar = st.progress(0.0, text=f"0 of {total:,} products")

    def advance(done: int, of: int) -> object:
        return bar.progress(done / of, text=f"{done:,} of {of:,} products")

    return advance


def render_batch(name: str, results: pd.DataFrame) -> None:
    """The batch's outcome: how many were classified, the table and its download."""
    st.success(f"{len(results):,} products of {inert(name)} classified.")
    batch_results_table(results)
    st.download_button(
        "Download the predictions (CSV)",
        to_safe_csv(results),
        file_name=f"predictions-{name}",
        mime="text/csv",
        icon=":material/download:",
    )


def parse_batch_csv(data: bytes, limit: int = MAX_BATCH_ROWS) -> pd.DataFrame:
    """Products to classify from a CSV with a ``designation`` column (``description`` optional).

    Raises:
        BatchFileError: the file is not a CSV, lacks ``designation``, is empty or too long.
    """
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"not a readable UTF-8 CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if "designation" not in frame.columns:
        raise BatchFileError(
            f"the CSV needs a 'designation' column (found: {_column_names(frame.columns)})"
        )
    if frame.empty:
        raise BatchFileError("the CSV has a header but no products")
    if len(frame) > limit:
        raise BatchFileError(f"{len(frame):,} rows is more than {limit:,}: split the file")
    blank = frame["designation"].str.strip() == ""
    if blank.any():
        rows = ", ".join(str(i + 2) for i in frame.index[blank][:5])  # +2: header, 1-based
        raise BatchFileError(f"{blank.sum()} row(s) have an empty designation (lines {rows})")
    if "description" not in frame.columns:
        frame["description"] = ""
    return frame


def batch_results_table(results: pd.DataFrame) -> None:
    """The batch's predictions, first columns first."""
    shown = ["designation", "category", "code", "probability"]
    rest = [c for c in results.columns if c not in shown and c != "description"]
    probability = st.column_config.ProgressColumn(
        "probability", format="percent", min_value=0, max_value=1
    )
    st.dataframe(
        results[shown + rest],
        hide_index=True,
        width="stretch",
        column_config={"probability": probability},
    )


def _column_names(columns: pd.Index) -> str:
    """The header's plain names (at most 8), and how many others are not shown."""
    plain = [str(c) for c in columns if PLAIN_NAME.fullmatch(str(c))][:8]
    hidden = len(columns) - len(plain)
    others = f"{hidden} column name{'s' if hidden > 1 else ''} not shown" if hidden else ""
    return " and ".join(part for part in (", ".join(plain), others) if part) or "none"
