"""Tests for the built-in synthetic Rakuten catalogue."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from core.data import synthetic_vocab as vocab
from core.data.categories import CATEGORIES, CODES, FULL_SIZE
from core.data.synthetic import (
    COLUMNS,
    MAX_ROWS,
    MIN_PER_CLASS,
    MIN_ROWS,
    class_counts,
    generate_catalogue,
)
from core.features import combine_texts

SMALL = 2_000


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    """A small catalogue shared by the read-only tests."""
    return generate_catalogue(SMALL, seed=7)


def test_schema_columns_and_index(small: pd.DataFrame) -> None:
    assert tuple(small.columns) == COLUMNS
    assert isinstance(small.index, pd.RangeIndex)
    assert small.index.equals(pd.RangeIndex(SMALL))


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("productid", np.dtype("int64")),
        ("imageid", np.dtype("int64")),
        ("prdtypecode", np.dtype("int64")),
        ("designation", np.dtype("object")),
        ("description", np.dtype("object")),
    ],
)
def test_column_dtypes(small: pd.DataFrame, column: str, dtype: np.dtype) -> None:
    assert small[column].dtype == dtype


@pytest.mark.parametrize("column", ["designation", "description"])
def test_text_columns_are_plain_strings(small: pd.DataFrame, column: str) -> None:
    assert small[column].map(type).eq(str).all()
    assert not small[column].isna().any()


def test_full_size_has_exact_real_counts() -> None:
    df = generate_catalogue()
    assert len(df) == FULL_SIZE
    assert df["prdtypecode"].value_counts().to_dict() == {c.code: c.train_count for c in CATEGORIES}


@pytest.mark.parametrize(
    ("n_rows", "clamped"),
    [
        (MIN_ROWS, True),
        (400, True),
        (1_000, False),
        (SMALL, False),
        (12_345, False),
        (FULL_SIZE, False),
        (200_000, False),
    ],
)
def test_class_counts_proportional_and_exact_total(n_rows: int, clamped: bool) -> None:
    counts = class_counts(n_rows)
    assert list(counts) == list(CODES)
    assert sum(counts.values()) == n_rows
    assert min(counts.values()) >= MIN_PER_CLASS
    if not clamped:  # below ~560 rows the minimum per class takes rows from the others
        for category in CATEGORIES:
            quota = category.train_count * n_rows / FULL_SIZE
            assert abs(counts[category.code] - quota) < 1


@pytest.mark.parametrize("n_rows", [MIN_ROWS, 777, SMALL])
def test_generated_counts_match_class_counts(n_rows: int) -> None:
    df = generate_catalogue(n_rows, seed=3)
    assert len(df) == n_rows
    assert df["prdtypecode"].value_counts().to_dict() == class_counts(n_rows)


def test_every_class_present(small: pd.DataFrame) -> None:
    assert set(small["prdtypecode"]) == set(CODES)


@pytest.mark.parametrize("column", ["productid", "imageid"])
def test_ids_unique_positive_and_rakuten_like(small: pd.DataFrame, column: str) -> None:
    ids = small[column]
    assert ids.is_unique
    assert (ids > 0).all()
    assert ids.astype(str).str.len().between(8, 10).all()


def test_designations_never_empty(small: pd.DataFrame) -> None:
    assert small["designation"].str.strip().str.len().gt(0).all()


def test_same_seed_same_frame() -> None:
    pd.testing.assert_frame_equal(generate_catalogue(SMALL, seed=11), generate_catalogue(SMALL, 11))


@pytest.mark.parametrize("column", list(COLUMNS[:4]))
def test_other_seed_differs(column: str) -> None:
    a, b = generate_catalogue(SMALL, seed=1), generate_catalogue(SMALL, seed=2)
    assert not a[column].equals(b[column])


def test_empty_description_share(small: pd.DataFrame) -> None:
    assert 0.30 <= small["description"].eq("").mean() <= 0.40


@pytest.mark.parametrize(
    ("pattern", "min_share"),
    [
        (r"<p>|<br />|<b>|<li>", 0.05),
        (r"&eacute;|&amp;|&nbsp;|&#39;|&egrave;|&agrave;", 0.05),
    ],
)
def test_descriptions_carry_html(small: pd.DataFrame, pattern: str, min_share: float) -> None:
    assert small["description"].str.contains(pattern).mean() >= min_share


def test_some_titles_are_not_french(small: pd.DataFrame) -> None:
    markers = {w.lower() for p in vocab.VOCAB.values() for w in p["foreign"]}
    markers |= {w.lower() for w in vocab.FOREIGN_EXTRAS}
    pattern = "|".join(re.escape(m) for m in sorted(markers))
    share = small["designation"].str.lower().str.contains(pattern).mean()
    assert 0.02 <= share <= 0.10


@pytest.mark.parametrize("n_rows", [0, -5, MIN_ROWS - 1, MAX_ROWS + 1, 2.5, "100", True])
def test_bad_n_rows_raises(n_rows: object) -> None:
    with pytest.raises(ValueError, match="n_rows"):
        generate_catalogue(n_rows)  # type: ignore[arg-type]


def test_baseline_learns_but_not_trivially() -> None:
    """Behaviour guard: a small TF-IDF + LR beats chance by far yet stays clearly imperfect."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    df = generate_catalogue(6_000, seed=5)
    text = combine_texts(df["designation"], df["description"])
    x_train, x_test, y_train, y_test = train_test_split(
        text, df["prdtypecode"], test_size=0.2, stratify=df["prdtypecode"], random_state=0
    )
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=20_000),
        LogisticRegression(C=3.0, solver="saga", max_iter=200),
    ).fit(x_train, y_train)
    score = f1_score(y_test, model.predict(x_test), average="weighted")
    majority = f1_score(y_test, np.full(len(y_test), y_train.mode()[0]), average="weighted")
    assert majority < 0.05
    assert 0.55 < score < 0.99


def test_words_come_in_several_spellings(small: pd.DataFrame) -> None:
    """A pool word appears as itself and misspelt, de-accented or glued (char n-grams pay off)."""
    titles = small["designation"].str.lower()
    own = titles.str.contains("piscine").sum()
    variants = titles.str.contains(
        r"piscne|pisicne|pisscine|piscinne|piscien|piscinr|psicine"
    ).sum()
    assert own > 0 and variants > 0
    text = small["designation"] + " " + small["description"]
    assert text.str.contains("Édition").sum() > 0 and text.str.contains(r"\bEdition").sum() > 0


def test_titles_and_descriptions_carry_model_numbers(small: pd.DataFrame) -> None:
    text = small["designation"] + " " + small["description"]
    codes = text.str.contains(r"\b[A-Za-z]{2,3}[- ]?\d{3,6}[A-Za-z]?\b")
    assert 0.3 <= codes.mean() <= 0.95
    assert small["designation"].str.contains(r"\d{2,}(?:ml|cm|g|kg|v|w|go|l)\b", case=False).any()


def test_a_long_tail_of_rare_words() -> None:
    """Most distinct words are rare (as in real listings), yet common words still dominate."""
    df = generate_catalogue(6_000, seed=9)
    words = combine_texts(df["designation"], df["description"])
    counts = pd.Series(" ".join(words).lower().split()).value_counts()
    assert len(counts) > 15_000
    assert (counts == 1).mean() > 0.5
    assert counts.head(1_000).sum() / counts.sum() > 0.5


def test_descriptions_are_long_like_real_ones(small: pd.DataFrame) -> None:
    lengths = small.loc[small["description"] != "", "description"].str.len()
    assert 150 <= lengths.median() <= 600


def test_same_seed_same_catalogue_at_full_size_is_fast() -> None:
    import time

    start = time.perf_counter()
    a = generate_catalogue(seed=4)
    assert time.perf_counter() - start < 10  # ~1 s on a quiet machine; a loose bound
    pd.testing.assert_frame_equal(a.head(500), generate_catalogue(seed=4).head(500))
