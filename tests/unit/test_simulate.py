"""The traffic simulator draws from the holdout and injects the drift asked for, no more."""

from __future__ import annotations

import pandas as pd
import pytest

from core.simulate import NEW_WORDS, SUMMER_CODES, simulated_traffic


def test_no_drift_draws_holdout_products(catalogue: pd.DataFrame) -> None:
    traffic = simulated_traffic(catalogue, 500, "none", seed=1)
    assert len(traffic) == 500 and list(traffic.columns) == [
        "designation",
        "description",
        "prdtypecode",
    ]
    assert set(traffic.designation) <= set(catalogue.designation)
    assert traffic.equals(simulated_traffic(catalogue, 500, "none", seed=1))  # repeatable


def test_a_summer_wave_shifts_the_category_mix(catalogue: pd.DataFrame) -> None:
    traffic = simulated_traffic(catalogue, 1_000, "summer", strength=0.7, seed=2)
    share = traffic.prdtypecode.isin(SUMMER_CODES).mean()
    assert 0.7 <= share < 0.8  # the wave, plus the summer products among the rest


def test_new_vocabulary_and_corruption_touch_the_share_asked(catalogue: pd.DataFrame) -> None:
    words = simulated_traffic(catalogue, 1_000, "vocabulary", strength=0.5, seed=3)
    new = words.designation.map(lambda t: set(t.split()) <= set(NEW_WORDS))
    assert 0.4 < new.mean() < 0.6
    broken = simulated_traffic(catalogue, 1_000, "corrupted", strength=1.0, seed=4)
    assert (broken.designation == broken.designation.str.upper()).all()
    assert (broken.description == "").all() and broken.designation.str.contains(r"\d{5}").all()


def test_bad_requests_are_refused_plainly(catalogue: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least one"):
        simulated_traffic(catalogue, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        simulated_traffic(catalogue, 5, strength=2)
    with pytest.raises(ValueError, match="holdout is empty"):
        simulated_traffic(catalogue.iloc[:0], 5)
