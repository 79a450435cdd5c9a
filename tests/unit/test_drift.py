"""Statistical sanity of the drift check on the built-in catalogue (real Evidently, no mocks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import generate_catalogue
from core.drift import DriftInputError, compute_drift, drift_frame

SUMMER = [2583, 2582]  # pools, garden furniture
NEW_WORDS = (
    "wireless bluetooth speaker smartwatch drone gimbal vegan protein keto air-fryer".split()
)


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return generate_catalogue(12_000, seed=21)


def sample(products: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Products as the drift check sees them; confidence from one fixed distribution."""
    rng = np.random.default_rng(seed)
    confidence = pd.Series(rng.beta(5, 2, len(products)))
    return drift_frame(products.designation, products.description, products.prdtypecode, confidence)


@pytest.fixture(scope="module")
def reference(catalogue: pd.DataFrame) -> pd.DataFrame:
    return sample(catalogue.iloc[:5_000], seed=1)


def test_two_samples_of_the_same_distribution_are_not_flagged(
    catalogue: pd.DataFrame, reference: pd.DataFrame
) -> None:
    summary, html = compute_drift(reference, sample(catalogue.iloc[5_000:7_000], 2), 0.3)
    assert summary.verdict == "no drift" and summary.drifted_columns == ()
    assert summary.drift_share == 0 and (summary.reference_rows, summary.current_rows) == (
        5_000,
        2_000,
    )
    assert set(summary.scores) == {
        "designation",
        "description",
        "confidence",
        "title_length",
        "title_words",
        "digit_share",
        "upper_share",
        "predicted_code",
        "description_empty",
    }
    assert html.lstrip().startswith("<!DOCTYPE html>") and "predicted_code" in html


def test_a_summer_wave_of_pools_and_garden_furniture_is_flagged(
    catalogue: pd.DataFrame, reference: pd.DataFrame
) -> None:
    rest = catalogue.iloc[5_000:]
    summer = rest[rest.prdtypecode.isin(SUMMER)].sample(1_500, replace=True, random_state=3)
    current = pd.concat([summer, rest.sample(500, random_state=4)])
    summary, _ = compute_drift(reference, sample(current, 3), 0.3)
    assert summary.verdict == "drift"
    assert "predicted_code" in summary.drifted_columns and summary.drift_share > 0.3


def test_new_vocabulary_is_flagged(catalogue: pd.DataFrame, reference: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    current = catalogue.iloc[5_000:7_000].copy()  # the same category mix ...
    current["designation"] = [  # ... but titles in words the catalogue never used
        " ".join(rng.choice(NEW_WORDS, size=len(t.split()))) for t in current.designation
    ]
    current["description"] = [
        " ".join(rng.choice(NEW_WORDS, size=12)) if d else "" for d in current.description
    ]
    summary, _ = compute_drift(reference, sample(current, 4), 0.3)
    assert "designation" in summary.drifted_columns and "description" in summary.drifted_columns
    assert "predicted_code" not in summary.drifted_columns
    assert summary.verdict == "drift"


def test_the_threshold_decides_the_verdict(
    catalogue: pd.DataFrame, reference: pd.DataFrame
) -> None:
    rest = catalogue.iloc[5_000:]
    current = rest[rest.prdtypecode.isin(SUMMER)].sample(300, replace=True, random_state=6)
    summary, _ = compute_drift(reference, sample(current, 6), 0.3)
    assert 0 < summary.drift_share < 1
    strict, _ = compute_drift(reference, sample(current, 6), summary.drift_share - 0.01)
    lenient, _ = compute_drift(reference, sample(current, 6), summary.drift_share)
    assert strict.verdict == "drift" and lenient.verdict == "no drift"  # share must exceed it


def test_too_little_traffic_is_a_readable_error(
    catalogue: pd.DataFrame, reference: pd.DataFrame
) -> None:
    with pytest.raises(DriftInputError, match="only 12 prediction.* send at least 30"):
        compute_drift(reference, sample(catalogue.iloc[:12], 7), 0.3)
    with pytest.raises(DriftInputError, match="current sample lacks column.*confidence"):
        compute_drift(reference, sample(catalogue.iloc[:40], 7).drop(columns="confidence"), 0.3)
