"""Reading and validating product files: good files in, bad files refused with row and reason."""

from __future__ import annotations

import pytest

from core.data.importer import (
    DataValidationError,
    NamedSource,
    read_challenge_files,
    read_labelled_csv,
)

X_GOOD = (
    ",designation,description,productid,imageid\n"
    "0,Olivia: Personalisierbares Notizbuch,,3804725264,1263597046\n"
    '1,Journal Des Arts N° 133,"<p>Le journal&nbsp;des arts</p>",436067568,1008141237\n'
    "2,Piscine tubulaire 300x76 cm,Bâche et pompe incluses,201115110,938777978\n"
)
Y_GOOD = ",prdtypecode\n0,10\n1,2280\n2,2583\n"
LABELLED_GOOD = (
    "designation,description,productid,imageid,prdtypecode\n"
    "Lot de 3 romans,,11,21,2403\n"
    "Console PS4 occasion,Très bon état,12,22,2462\n"
)


def test_challenge_files_are_joined_on_their_index() -> None:
    frame = read_challenge_files(X_GOOD.encode(), Y_GOOD.encode())
    assert frame.columns.tolist() == [
        "productid", "imageid", "designation", "description", "prdtypecode",
    ]  # fmt: skip
    assert frame["prdtypecode"].tolist() == [10, 2280, 2583]
    assert frame["productid"].dtype == "int64"
    assert frame.loc[0, "description"] == ""
    assert frame.loc[1, "description"] == "<p>Le journal&nbsp;des arts</p>"  # cleaned later


def test_labelled_csv_from_path(tmp_path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(LABELLED_GOOD, encoding="utf-8")
    frame = read_labelled_csv(path)
    assert frame["prdtypecode"].tolist() == [2403, 2462]


def test_utf8_bom_and_spreadsheet_floats_are_accepted() -> None:
    text = LABELLED_GOOD.replace(",12,22,2462", ",12.0,22,2462.0")
    frame = read_labelled_csv(b"\xef\xbb\xbf" + text.encode())
    assert frame["productid"].tolist() == [11, 12]


def _labelled(*rows: str, header: str = "designation,description,productid,imageid,prdtypecode"):
    return "\n".join((header, *rows)).encode("utf-8")


@pytest.mark.parametrize(
    ("content", "problem", "row"),
    [
        pytest.param(
            _labelled("Livre,,1,1,10", header="designation,description,imageid,prdtypecode"),
            "missing column(s) productid", None, id="missing-column",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Console,,2,2,1234"),
            "unknown prdtypecode 1234", 2, id="unknown-code",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Console,,2,2,60", "Jeu,,1,3,40"),
            "duplicated productid 1 (again at row 3)", 1, id="duplicated-productid",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "  ,texte,2,2,60"),
            "empty designation", 2, id="empty-designation",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Caf\xe9,,2,2,60").replace(b"\xc3\xa9", b"\xe9"),
            "line 3: not valid UTF-8 (byte 0xe9)", None, id="not-utf8",
        ),
        pytest.param(
            _labelled("Livre,,abc,1,10"), "productid 'abc' is not an integer", 1, id="bad-id",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10.5"), "prdtypecode '10.5' is not an integer", 1,
            id="fractional-code",
        ),
        pytest.param(b"", "is empty", None, id="empty-file"),
        pytest.param(_labelled(), "has no products (only a header)", None, id="header-only"),
        pytest.param(
            _labelled("Livre,,99999999999999999999,1,10"),
            "productid '99999999999999999999' is not an integer (64-bit)", 1, id="id-overflow",
        ),
    ],
)  # fmt: skip
def test_bad_labelled_files_are_refused_naming_problem_and_row(
    content: bytes, problem: str, row: int | None
) -> None:
    with pytest.raises(DataValidationError) as caught:
        read_labelled_csv(NamedSource(content, "upload.csv"))
    assert problem in caught.value.problem
    assert caught.value.row == row
    expected_prefix = "upload.csv" if row is None else f"upload.csv, row {row}"
    assert str(caught.value).startswith(expected_prefix)


def test_x_row_without_label_is_refused() -> None:
    with pytest.raises(
        DataValidationError, match=r"X_train_update.csv, row 3: index 2 has no label"
    ):
        read_challenge_files(X_GOOD.encode(), b",prdtypecode\n0,10\n1,2280\n")


def test_y_without_prdtypecode_is_refused() -> None:
    with pytest.raises(DataValidationError, match=r"Y_train_CVw08PX.csv: missing column"):
        read_challenge_files(X_GOOD.encode(), b",label\n0,10\n")


def test_unreadable_path_is_refused(tmp_path) -> None:
    with pytest.raises(DataValidationError, match="cannot be read"):
        read_labelled_csv(tmp_path / "nope.csv")


def test_large_ids_are_kept_exactly() -> None:
    frame = read_labelled_csv(_labelled("Livre,,9007199254740993,1,10", "Jeu,,12.0,2,40"))
    assert frame["productid"].tolist() == [9007199254740993, 12]


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        pytest.param(
            X_GOOD, ",prdtypecode\n0,10\n1,77\n2,2583\n",
            "Y_train_CVw08PX.csv, row 2: unknown prdtypecode 77", id="unknown-code-in-y",
        ),
        pytest.param(
            X_GOOD, ",prdtypecode\n0,10\n0,2280\n2,2583\n",
            "Y_train_CVw08PX.csv, row 1: index 0 appears more than once", id="duplicated-y-index",
        ),
        pytest.param(
            X_GOOD.replace("\n2,Piscine", "\n1,Piscine"), Y_GOOD,
            "X_train_update.csv, row 2: index 1 appears more than once", id="duplicated-x-index",
        ),
        pytest.param(
            ",designation,description,productid,prdtypecode\n0,Livre,,1,10\n", Y_GOOD,
            "X_train_update.csv: already has a prdtypecode column", id="labelled-file-as-x",
        ),
    ],
)  # fmt: skip
def test_challenge_pair_problems_name_the_right_file(x: str, y: str, message: str) -> None:
    with pytest.raises(DataValidationError) as caught:
        read_challenge_files(x.encode(), y.encode())
    assert str(caught.value).startswith(message)
