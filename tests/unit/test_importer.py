"""Reading and validating product files: good files in, bad files refused with row and reason."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data.importer import (
    DataValidationError,
    NamedSource,
    read_challenge_files,
    read_labelled_csv,
    validate_products,
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
        "productid",
        "imageid",
        "designation",
        "description",
        "prdtypecode",
    ]
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
            "missing column(s) productid",
            None,
            id="missing-column",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Console,,2,2,1234"),
            "unknown prdtypecode 1234",
            2,
            id="unknown-code",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Console,,2,2,60", "Jeu,,1,3,40"),
            "duplicated productid 1 (again at row 3)",
            1,
            id="duplicated-productid",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "  ,texte,2,2,60"),
            "empty designation",
            2,
            id="empty-designation",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Caf\xe9,,2,2,60").replace(b"\xc3\xa9", b"\xe9"),
            "line 3: not valid UTF-8 (byte 0xe9)",
            None,
            id="not-utf8",
        ),
        pytest.param(
            _labelled("Livre,,abc,1,10"),
            "productid 'abc' is not an integer",
            1,
            id="bad-id",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10.5"),
            "prdtypecode '10.5' is not an integer",
            1,
            id="fractional-code",
        ),
        pytest.param(b"", "is empty", None, id="empty-file"),
        pytest.param(_labelled(), "has no products (only a header)", None, id="header-only"),
        pytest.param(
            _labelled("Livre,,99999999999999999999,1,10"),
            "productid '99999999999999999999' is not an integer (64-bit)",
            1,
            id="id-overflow",
        ),
    ],
)
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
            X_GOOD,
            ",prdtypecode\n0,10\n1,77\n2,2583\n",
            "Y_train_CVw08PX.csv, row 2: unknown prdtypecode 77",
            id="unknown-code-in-y",
        ),
        pytest.param(
            X_GOOD,
            ",prdtypecode\n0,10\n0,2280\n2,2583\n",
            "Y_train_CVw08PX.csv, row 1: index 0 appears more than once",
            id="duplicated-y-index",
        ),
        pytest.param(
            X_GOOD.replace("\n2,Piscine", "\n1,Piscine"),
            Y_GOOD,
            "X_train_update.csv, row 2: index 1 appears more than once",
            id="duplicated-x-index",
        ),
        pytest.param(
            ",designation,description,productid,prdtypecode\n0,Livre,,1,10\n",
            Y_GOOD,
            "X_train_update.csv: already has a prdtypecode column",
            id="labelled-file-as-x",
        ),
    ],
)
def test_challenge_pair_problems_name_the_right_file(x: str, y: str, message: str) -> None:
    with pytest.raises(DataValidationError) as caught:
        read_challenge_files(x.encode(), y.encode())
    assert str(caught.value).startswith(message)


# --- Hostile files: NUL bytes, oversized cells, duplicated headers, huge values in messages ---

BIG = "A" * 5_000_000  # stands for the 30 MB cell of the probe; a message must never carry it


@pytest.mark.parametrize(
    ("content", "problem", "row"),
    [
        pytest.param(
            _labelled("Livre,,1,1,10", "Jeu\x00 vidéo,,2,2,40"),
            "designation contains a NUL byte",
            2,
            id="nul-in-designation",
        ),
        pytest.param(
            _labelled('Livre,"texte\x00caché",1,1,10'),
            "description contains a NUL byte",
            1,
            id="nul-in-quoted-description",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", "Jeu,,2\x003,2,40"),
            "productid contains a NUL byte",
            2,
            id="nul-in-id",  # today: silently read as 2
        ),
        pytest.param(
            _labelled(
                "Livre,,1,1,10", header="designation,descrip\x00tion,productid,imageid,prdtypecode"
            ),
            "the header contains a NUL byte",
            None,
            id="nul-in-header",
        ),
        pytest.param(
            _labelled("Livre,,1,1,10", f"{'x' * 1_001},,2,2,40"),
            "designation has 1,001 characters, more than the 1,000 the API accepts",
            2,
            id="designation-over-the-api-limit",
        ),
        pytest.param(
            _labelled(f"Livre,{'x' * 50_001},1,1,10"),
            "description has 50,001 characters, more than the 50,000 the API accepts",
            1,
            id="description-over-the-api-limit",
        ),
        pytest.param(
            _labelled(f"Livre,{BIG},1,1,10"),
            "description has 5,000,000 characters",
            1,
            id="huge-description",
        ),
        pytest.param(
            _labelled(
                "Livre,,1,1,10",
                header="designation,description,productid,imageid,prdtypecode,designation",
            ),
            "column designation appears more than once in the header (columns 1 and 6)",
            None,
            id="duplicated-header",
        ),
    ],
)
def test_hostile_labelled_files_are_refused_naming_column_and_row(
    content: bytes, problem: str, row: int | None
) -> None:
    with pytest.raises(DataValidationError) as caught:
        read_labelled_csv(NamedSource(content, "upload.csv"))
    assert problem in caught.value.problem
    assert caught.value.row == row
    assert len(str(caught.value)) < 300 and "\x00" not in str(caught.value)


def test_cells_at_the_api_limits_are_accepted() -> None:
    frame = read_labelled_csv(_labelled(f"{'t' * 1_000},{'d' * 50_000},1,1,10"))
    assert frame.loc[0, "designation"] == "t" * 1_000
    assert len(frame.loc[0, "description"]) == 50_000


def test_a_nul_in_the_challenge_x_file_names_that_file_and_row() -> None:
    x = X_GOOD.replace("Piscine tubulaire", "Piscine\x00tubulaire")
    with pytest.raises(DataValidationError) as caught:
        read_challenge_files(x.encode(), Y_GOOD.encode())
    assert str(caught.value).startswith(
        "X_train_update.csv, row 3: designation contains a NUL byte"
    )


def test_a_duplicated_column_of_the_labels_file_is_refused() -> None:
    with pytest.raises(DataValidationError, match=r"Y_train_CVw08PX.csv: column prdtypecode"):
        read_challenge_files(X_GOOD.encode(), b",prdtypecode,prdtypecode\n0,10,10\n1,2280,2280\n")


@pytest.mark.parametrize(
    ("x", "y"),
    [
        pytest.param(_labelled(f"Livre,,{BIG},1,10").decode(), None, id="huge-productid"),
        pytest.param(_labelled(f"Livre,,1,1,{BIG}").decode(), None, id="huge-code"),
        pytest.param(
            _labelled("Livre,,1,1,10", header=f"designation,{BIG},imageid,prdtypecode").decode(),
            None,
            id="huge-header-name",
        ),
        pytest.param(
            X_GOOD.replace("\n2,Piscine", f"\n{BIG},Piscine"),
            Y_GOOD,
            id="huge-index-no-label",
        ),
        pytest.param(
            X_GOOD.replace("\n0,Olivia", f"\n{BIG},Olivia").replace("\n1,Journal", f"\n{BIG},J"),
            Y_GOOD,
            id="huge-duplicated-index",
        ),
    ],
)
def test_a_refusal_never_prints_a_huge_cell(x: str, y: str | None) -> None:
    with pytest.raises(DataValidationError) as caught:
        if y is None:
            read_labelled_csv(NamedSource(x.encode(), "upload.csv"))
        else:
            read_challenge_files(x.encode(), y.encode())
    message = str(caught.value)
    assert len(message) < 400, message[:400]
    assert "A" * 41 not in message and "…" in message


def test_a_frame_built_in_code_is_held_to_the_same_rules() -> None:
    frame = pd.DataFrame(
        {
            "designation": ["Livre", "Jeu"],
            "description": ["", "texte\x00caché"],
            "productid": ["1", "2"],
            "prdtypecode": ["10", "40"],
        }
    )
    with pytest.raises(DataValidationError, match=r"^catalogue, row 2: description contains a NUL"):
        validate_products(frame, "catalogue")
    frame.loc[1, "description"] = ""
    frame.loc[0, "designation"] = "x" * 1_001
    with pytest.raises(DataValidationError, match=r"^catalogue, row 1: designation has 1,001"):
        validate_products(frame, "catalogue")
