"""CSV downloads: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import ast
import csv
import io

import pandas as pd
import pytest

from core.data.export import to_safe_csv
from core.settings import REPO_ROOT


def read_back(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","clic")', '\'=HYPERLINK("http://x","clic")'),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Piscine tubulaire", "Piscine tubulaire"),
        ("Lot = 3 livres", "Lot = 3 livres"),  # only a leading character counts
        ("", ""),
    ],
)
def test_text_cells_that_start_a_formula_are_neutralised(cell: str, written: str) -> None:
    frame = pd.DataFrame({"designation": [cell], "prdtypecode": [2583]})
    rows = read_back(to_safe_csv(frame))
    assert rows == [["designation", "prdtypecode"], [written, "2583"]]


def test_numbers_stay_numbers_and_column_names_are_neutralised_too() -> None:
    frame = pd.DataFrame(
        {
            "probability": [-0.5, 0.25],
            "delta": [-3, 4],
            "=cmd|' /C calc'!A0": ["-x", None],  # an uploaded batch file keeps its own columns
        }
    )
    rows = read_back(to_safe_csv(frame))
    assert rows == [
        ["probability", "delta", "'=cmd|' /C calc'!A0"],
        ["-0.5", "-3", "'-x"],
        ["0.25", "4", ""],
    ]


def test_the_frame_is_not_changed_and_dates_are_written_as_they_are() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2025-01-02 03:04:05"]), "text": ["=1"]})
    data = to_safe_csv(frame)
    assert frame.loc[0, "text"] == "=1"
    assert read_back(data)[1] == ["2025-01-02 03:04:05", "'=1"]


def test_a_line_break_inside_a_cell_stays_inside_it() -> None:
    frame = pd.DataFrame({"designation": ["ligne 1\rligne 2", "a\nb"], "code": [1, 2]})
    assert read_back(to_safe_csv(frame))[1:] == [["ligne 1\rligne 2", "1"], ["a\nb", "2"]]


def test_every_csv_download_button_of_the_app_goes_through_to_safe_csv() -> None:
    """A new CSV download written with ``frame.to_csv()`` would bring formula cells back."""
    found = []
    for path in sorted((REPO_ROOT / "app").rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(call, ast.Call) and ast.unparse(call.func).endswith("download_button")
            ):
                continue
            keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
            if "csv" not in keywords.get("mime", "") + keywords.get("file_name", ""):
                continue
            data = (
                call.args[1]
                if len(call.args) > 1
                else next(k.value for k in call.keywords if k.arg == "data")
            )
            found.append((path.name, ast.unparse(data)))
    assert found, "no CSV download button found: the check would prove nothing"
    assert all(data.startswith("to_safe_csv(") for _, data in found), found
