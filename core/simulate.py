"""Traffic for demonstrations: products drawn from the holdout, optionally drifted on purpose.

Scenarios (what a person picks on the Monitoring page):

- ``none``: the holdout as it is — what the champion was trained for;
- ``summer``: a summer wave, most products pools and garden furniture (a category-mix shift);
- ``vocabulary``: titles and descriptions in words the catalogue never used (new products);
- ``corrupted``: shouting, truncated, digit-riddled titles and lost descriptions (a broken feed).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Scenario = Literal["none", "summer", "vocabulary", "corrupted"]
SCENARIOS: dict[Scenario, str] = {
    "none": "no drift: products as in the holdout",
    "summer": "summer wave: mostly pools and garden furniture",
    "vocabulary": "new vocabulary: words the catalogue never used",
    "corrupted": "corrupted text: upper case, truncated titles, digits, no descriptions",
}
SUMMER_CODES = (2583, 2582)
NEW_WORDS = (
    "wireless bluetooth smartwatch drone gimbal vegan protein keto airfryer powerbank "
    "earbuds ringlight selfie standing-desk e-scooter hoverboard vape kombucha"
).split()


def simulated_traffic(
    holdout: pd.DataFrame,
    n: int,
    scenario: Scenario = "none",
    strength: float = 0.7,
    seed: int | None = None,
) -> pd.DataFrame:
    """``n`` products (``designation``, ``description``, ``prdtypecode``) for the scenario.

    Args:
        holdout: Products to draw from (the fixed holdout).
        n: How many.
        scenario: Which drift to inject (see the module's docstring).
        strength: Share of the products the drift touches (0–1).
        seed: For a repeatable draw.

    Raises:
        ValueError: ``n`` < 1, ``strength`` outside 0–1, or an empty holdout.
    """
    if n < 1:
        raise ValueError("send at least one product")
    if not 0 <= strength <= 1:
        raise ValueError("strength is a share between 0 and 1")
    if holdout.empty:
        raise ValueError("the holdout is empty: import a dataset on the Dataset page first")
    rng = np.random.default_rng(seed)
    columns = ["designation", "description", "prdtypecode"]
    touched = int(round(strength * n))
    if scenario == "summer":
        wave = holdout[holdout.prdtypecode.isin(SUMMER_CODES)]
        if wave.empty:
            raise ValueError("the holdout has no pools or garden furniture to make a wave of")
        products = pd.concat([_draw(wave, touched, rng), _draw(holdout, n - touched, rng)])
        return (
            products[columns]
            .sample(frac=1, random_state=rng.integers(2**31))
            .reset_index(drop=True)
        )
    products = _draw(holdout, n, rng)[columns].reset_index(drop=True)
    hit = rng.random(n) < strength
    if scenario == "vocabulary":
        products.loc[hit, "designation"] = [
            " ".join(rng.choice(NEW_WORDS, size=max(2, len(t.split()))))
            for t in products.designation[hit]
        ]
        products.loc[hit, "description"] = [
            " ".join(rng.choice(NEW_WORDS, size=15)) if d else "" for d in products.description[hit]
        ]
    elif scenario == "corrupted":
        products.loc[hit, "designation"] = [
            f"{t[: max(4, len(t) // 3)].upper()} {rng.integers(10**5, 10**7)}"
            for t in products.designation[hit]
        ]
        products.loc[hit, "description"] = ""
    return products


def _draw(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if n <= 0:
        return frame.iloc[:0]
    return frame.sample(n, replace=n > len(frame), random_state=rng.integers(2**31))
