"""Reading one CSV file into text cells, refusing what the parser would silently change.

Files come from anywhere: a NUL byte would end a cell without a word (and PostgreSQL cannot store
it), a repeated column name would be renamed to ``designation.1`` and dropped. Both are refused,
and no message ever quotes more than :data:`SHOWN_CHARS` characters of a cell.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

Source = str | Path | bytes | BinaryIO
SHOWN_CHARS = 40  # the most of one cell a message quotes


class DataValidationError(ValueError):
    """A product file was refused; ``str()`` is a message a person can act on."""

    def __init__(self, file: str, problem: str, row: int | None = None) -> None:
        self.file = file
        self.problem = problem
        self.row = row
        where = f"{file}, row {row}" if row is not None else file
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class NamedSource:
    """A source with the name used in messages (an upload has no path)."""

    data: Source
    name: str


def named_source(source: Source | NamedSource, default: str) -> NamedSource:
    """``source`` with the name its messages use.

    Args:
        source: A path, bytes, a binary file object, or an already named source.
        default: The name when the source has none (bytes, an anonymous file object).

    Returns:
        The source and its name: its own, its file name, or ``default``.
    """
    if isinstance(source, NamedSource):
        return source
    if isinstance(source, str | Path):
        return NamedSource(source, Path(source).name)
    return NamedSource(source, getattr(source, "name", None) or default)


def _read_bytes(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    return source.read()


def read_text_cells(named: NamedSource, index_col: int | None) -> pd.DataFrame:
    """Read a CSV file into a frame of text cells, refusing what parsing would silently change.

    Args:
        named: The file and the name used in messages.
        index_col: Position of the index column (the challenge files have one), or None.

    Returns:
        Every cell as read, as a string; the index as strings too.

    Raises:
        DataValidationError: Unreadable, not UTF-8, empty, not CSV, a NUL byte anywhere (named by
            row and column), or a column name repeated in the header.
    """
    try:
        raw = _read_bytes(named.data)
    except OSError as exc:
        raise DataValidationError(named.name, f"cannot be read ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A line, not a row: quoted descriptions may span several lines of the file.
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataValidationError(
            named.name,
            f"line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8 and import it again",
        ) from exc
    if not text.strip():
        raise DataValidationError(named.name, "is empty")
    # The parser silently ends a cell at a NUL (PostgreSQL cannot store one either): a stand-in
    # character survives parsing, so the cell that held it can be named, then refused.
    nul = _absent_character(text) if "\x00" in text else None
    if nul is not None:
        text = text.replace("\x00", nul)
    try:
        # Everything as text: ids must not silently become floats, and checks report the cell.
        frame = pd.read_csv(
            io.StringIO(text), index_col=index_col, dtype=str, keep_default_na=False
        )
        # pandas renames a repeated column ("designation.1"): only the raw header row shows it.
        header = pd.read_csv(
            io.StringIO(text), header=None, nrows=1, dtype=str, keep_default_na=False
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataValidationError(
            named.name, f"is not a readable CSV file ({clip(exc, 200)})"
        ) from exc
    if index_col is not None:
        # pandas reads an index of digits as numbers despite dtype=str: X's and Y's indexes must
        # compare as the same text, whatever else one of them holds.
        frame.index = frame.index.astype(str)
    if nul is not None:
        _refuse_marked(frame, text, nul, named.name)
    _refuse_duplicated_header(header.iloc[0].tolist(), named.name)
    return frame


def _absent_character(text: str) -> str:
    # Private-use characters: the first one the file does not contain marks where NULs were.
    return next(c for c in map(chr, range(0xE000, 0xF900)) if c not in text)


def _refuse_marked(frame: pd.DataFrame, text: str, mark: str, file: str) -> None:
    """Refuse the first cell (in file order) that held a NUL, now shown by ``mark``."""
    if any(mark in str(name) for name in (*frame.columns, frame.index.name)):
        raise DataValidationError(file, "the header contains a NUL byte (0x00): remove it")
    cells = {str(name): frame[name] for name in frame.columns}
    if not isinstance(frame.index, pd.RangeIndex):  # the challenge files' index column
        cells = {str(frame.index.name or "the index column"): frame.index.to_series(), **cells}
    marked = pd.DataFrame(
        {name: cells[name].str.contains(mark, regex=False).to_numpy() for name in cells}
    )
    rows = marked.any(axis=1).to_numpy()
    if not rows.any():  # outside any cell (e.g. on a line of its own)
        line = text.count("\n", 0, text.index(mark)) + 1
        raise DataValidationError(file, f"line {line}: contains a NUL byte (0x00): remove it")
    row = int(rows.argmax())
    column = clip(marked.columns[int(marked.iloc[row].to_numpy().argmax())])
    raise DataValidationError(file, f"{column} contains a NUL byte (0x00): remove it", row + 1)


def _refuse_duplicated_header(header: list[object], file: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(map(str, header), start=1):
        if name in seen and name.strip():
            raise DataValidationError(
                file,
                f"column {clip(name)} appears more than once in the header "
                f"(columns {seen[name]} and {position}): keep one",
            )
        seen.setdefault(name, position)


def clip(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value as a message may quote it: a file's cell can be megabytes long.

    Args:
        value: Anything; it is shown as ``str(value)``.
        limit: The most characters kept.

    Returns:
        The text, or its first ``limit`` characters followed by "…" to say that more was cut.
    """
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…"
