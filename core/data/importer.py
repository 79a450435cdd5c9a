"""Reading and validating product files: the challenge's X/Y pair or one labelled CSV.

Everything is checked before anything is written, so a bad file is refused whole. Each refusal is
a :class:`DataValidationError` naming the file, the problem and the first offending row (rows are
counted from 1, the header excluded). A message never carries a whole cell: files come from
anywhere, and a refused 30 MB cell must not end up on a page or in a log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from core.data.categories import CODES
from core.data.csv_source import (
    DataValidationError,
    NamedSource,
    Source,
    clip,
    named_source,
    read_text_cells,
)
from core.data.limits import MAX_DESCRIPTION, MAX_DESIGNATION

__all__ = [
    "DataValidationError",
    "NamedSource",
    "Source",
    "read_challenge_files",
    "read_labelled_csv",
    "validate_products",
]

REQUIRED_X_COLUMNS: tuple[str, ...] = ("designation", "description", "productid")
REQUIRED_LABELLED_COLUMNS: tuple[str, ...] = (*REQUIRED_X_COLUMNS, "prdtypecode")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "productid",
    "imageid",
    "designation",
    "description",
    "prdtypecode",
)
TEXT_LIMITS: dict[str, int] = {"designation": MAX_DESIGNATION, "description": MAX_DESCRIPTION}


def read_challenge_files(x: Source | NamedSource, y: Source | NamedSource) -> pd.DataFrame:
    """Read the challenge's ``X_train_update.csv`` and ``Y_train_CVw08PX.csv``, joined on the index.

    Args:
        x: Products file (index column, designation, description, productid, imageid).
        y: Labels file (index column, prdtypecode).

    Returns:
        A validated frame with :data:`OUTPUT_COLUMNS`.

    Raises:
        DataValidationError: On the first problem found, naming file and row.
    """
    x_named, y_named = named_source(x, "X_train_update.csv"), named_source(y, "Y_train_CVw08PX.csv")
    products = read_text_cells(x_named, index_col=0)
    labels = read_text_cells(y_named, index_col=0)
    _require_columns(products, REQUIRED_X_COLUMNS, x_named.name)
    _require_columns(labels, ("prdtypecode",), y_named.name)
    if "prdtypecode" in products.columns:
        raise DataValidationError(
            x_named.name, "already has a prdtypecode column: import it as one labelled CSV"
        )
    _refuse_duplicated_index(products, x_named.name)
    _refuse_duplicated_index(labels, y_named.name)
    # Labels are checked in their own file, so a bad code is reported where it is.
    _known_codes(_integers(labels["prdtypecode"], "prdtypecode", y_named.name), y_named.name)
    missing = ~products.index.isin(labels.index)
    if missing.any():
        row = int(missing.argmax()) + 1
        raise DataValidationError(
            x_named.name,
            f"index {clip(products.index[row - 1])} has no label in {y_named.name}",
            row,
        )
    labelled = products.join(labels[["prdtypecode"]], how="left")
    return validate_products(labelled, x_named.name)


def read_labelled_csv(source: Source | NamedSource) -> pd.DataFrame:
    """Read one CSV that already carries ``prdtypecode`` (an index column is optional).

    Args:
        source: Path, bytes or binary file object.

    Returns:
        A validated frame with :data:`OUTPUT_COLUMNS`.

    Raises:
        DataValidationError: On the first problem found, naming file and row.
    """
    named = named_source(source, "products.csv")
    frame = read_text_cells(named, index_col=None)
    _require_columns(frame, REQUIRED_LABELLED_COLUMNS, named.name)
    return validate_products(frame, named.name)


def validate_products(frame: pd.DataFrame, file: str = "products") -> pd.DataFrame:
    """Check and normalise a labelled product frame (all cells as read from CSV, as strings).

    Args:
        frame: Columns designation, description, productid, prdtypecode and optionally imageid.
        file: Name used in messages.

    Returns:
        A new frame with :data:`OUTPUT_COLUMNS`, integer ids and codes, ``""`` for no description.

    Raises:
        DataValidationError: Missing column, empty designation, text with a NUL character or
            longer than the API accepts, non-integer or duplicated productid, non-integer or
            unknown prdtypecode.
    """
    _require_columns(frame, REQUIRED_LABELLED_COLUMNS, file)
    if frame.empty:
        raise DataValidationError(file, "has no products (only a header)")
    frame = frame.reset_index(drop=True)
    designation = frame["designation"].fillna("").astype(str).str.strip()
    _refuse_first(designation == "", file, lambda _: "empty designation")
    description = frame["description"].fillna("").astype(str).str.strip()
    for name, text in (("designation", designation), ("description", description)):
        _refuse_unstorable(text, name, file)

    productid = _integers(frame["productid"], "productid", file)
    duplicated = productid.duplicated(keep=False)
    if duplicated.any():
        first = int(duplicated.to_numpy().argmax())
        again = productid[duplicated & (productid == productid[first])].index[1]
        raise DataValidationError(
            file,
            f"duplicated productid {productid[first]} (again at row {again + 1})",
            first + 1,
        )

    code = _known_codes(_integers(frame["prdtypecode"], "prdtypecode", file), file)

    imageid = (
        _integers(frame["imageid"], "imageid", file)
        if "imageid" in frame.columns
        else pd.Series(0, index=frame.index, dtype="int64")
    )
    return pd.DataFrame(
        {
            "productid": productid,
            "imageid": imageid,
            "designation": designation,
            "description": description,
            "prdtypecode": code,
        }
    )


def _require_columns(frame: pd.DataFrame, required: Iterable[str], file: str) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        names = [clip(name) for name in frame.columns[:10]]
        more = f" and {len(frame.columns) - 10} more" if len(frame.columns) > 10 else ""
        found = (", ".join(names) or "none") + more
        raise DataValidationError(file, f"missing column(s) {', '.join(missing)} (found: {found})")


def _refuse_unstorable(text: pd.Series, name: str, file: str) -> None:
    _refuse_first(
        text.str.contains("\x00", regex=False),
        file,
        lambda _: f"{name} contains a NUL byte (0x00): remove it",
    )
    length = text.str.len()
    limit = TEXT_LIMITS[name]
    _refuse_first(
        length > limit,
        file,
        lambda i: (
            f"{name} has {length.iloc[i]:,} characters, more than the {limit:,} the API "
            "accepts: shorten it"
        ),
    )


def _integers(column: pd.Series, name: str, file: str) -> pd.Series:
    text = column.fillna("").astype(str).str.strip().reset_index(drop=True)
    numbers = text.map(_parse_int)
    _refuse_first(
        numbers.isna(), file, lambda i: f"{name} {clip(text[i])!r} is not an integer (64-bit)"
    )
    return numbers.astype("int64")


def _parse_int(text: str) -> int | None:
    # Exact integer parsing (a float would corrupt ids past 2**53); "10.0" is what spreadsheets
    # write for 10, so a whole decimal is accepted.
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        if not number.is_integer():
            return None
        value = int(text.split(".")[0]) if "e" not in text.lower() else int(number)
    return value if -(2**63) <= value < 2**63 else None


def _known_codes(code: pd.Series, file: str) -> pd.Series:
    known = ", ".join(map(str, CODES))
    _refuse_first(
        ~code.isin(CODES),
        file,
        lambda i: f"unknown prdtypecode {code.iloc[i]} (known codes: {known})",
    )
    return code


def _refuse_duplicated_index(frame: pd.DataFrame, file: str) -> None:
    duplicated = pd.Series(frame.index.duplicated(keep=False))
    _refuse_first(
        duplicated, file, lambda i: f"index {clip(frame.index[i])} appears more than once"
    )


def _refuse_first(mask: pd.Series, file: str, problem: Callable[[int], str]) -> None:
    if mask.any():
        index = int(mask.to_numpy().argmax())
        raise DataValidationError(file, problem(index), index + 1)
