"""CSV files people download: safe to open in a spreadsheet, whoever wrote the text in them.

Product titles reach the control room from anyone (an unauthenticated ``POST /predict``, an
uploaded file), and a spreadsheet runs a cell that starts with ``=`` as a formula
(``=HYPERLINK(…)`` leaks data, DDE formulas start programs). Following OWASP's advice on CSV
injection, a *text* cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading ``'``, which spreadsheets read as "this is text" and do not display. Numeric,
boolean and date columns are written unchanged: ``-0.5`` in a probability column stays a number.
A title that really starts with ``-`` (or ``+``) is still a text cell and gets the ``'`` too.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """One cell as a spreadsheet may safely read it.

    Args:
        value: A cell; only text is ever changed.

    Returns:
        ``"'" + value`` for text starting with one of :data:`FORMULA_STARTS`, else ``value``.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """A frame as UTF-8 CSV bytes (no index) for a download button, formula cells neutralised.

    Column names are neutralised too: a batch file's own columns are kept in its predictions.

    Args:
        frame: What to download; it is not modified.

    Returns:
        The CSV file's bytes.
    """
    safe = frame.copy()
    for position, dtype in enumerate(safe.dtypes):
        if _is_text(dtype):
            safe.isetitem(position, safe.iloc[:, position].astype(object).map(neutralise))
    safe.columns = [neutralise(str(name)) for name in safe.columns]
    # CRLF, as RFC 4180 says: with "\n" alone, pandas leaves a cell holding a "\r" unquoted, and a
    # spreadsheet would split the row there.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def _is_text(dtype: object) -> bool:
    # Numbers, booleans and timestamps are written by pandas as such: nothing to neutralise.
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )
