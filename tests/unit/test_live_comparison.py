"""The live comparison reads the answer and the other model's prediction of the same requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from core.shadow.compare import LIVE_MIN_LABELLED, compare, wilson
from core.shadow.gate import live_verdict
from tests.shadow_rows import T0, log

POOL, BOOK, TOY = 2583, 10, 1280


def test_agreement_disagreements_latency_and_feedback_of_both(engine: Engine) -> None:
    log(engine, "a", (POOL, 0.9, 1), (POOL, 0.8, 2), truth=POOL)  # both right
    log(engine, "b", (POOL, 0.6, 1), (BOOK, 0.7, 2), truth=BOOK)  # only the challenger
    log(engine, "c", (TOY, 0.95, 1), (BOOK, 0.9, 2), truth=TOY)  # only the champion
    log(engine, "d", (TOY, 0.5, 1), (BOOK, 0.4, 2))  # disagree, unlabelled, least sure
    # A canary request: the challenger (v2) answered, the champion (v1) scored in shadow.
    log(engine, "e", (BOOK, 0.8, 2), (POOL, 0.7, 1), canary=True, truth=BOOK)
    log(engine, "f", (POOL, 0.9, 1), None)  # no shadow: not a pair
    log(engine, "g", (POOL, 0.9, 1), (POOL, 0.9, 3))  # another challenger version
    log(engine, "old", (POOL, 0.9, 1), (BOOK, 0.9, 2), minutes=-120)  # outside the window

    with engine.connect() as conn:
        found = compare(conn, since=T0 - timedelta(minutes=60), challenger_version=2)

    assert found.pairs == 5 and found.champion_versions == (1,)
    assert found.agreement == pytest.approx(1 / 5)
    assert found.labelled == 4
    assert (found.champion_right, found.challenger_right) == (2, 3)  # a, c | a, b, e
    assert (found.only_challenger, found.only_champion) == (2, 1)
    assert found.accuracy(challenger=True) == pytest.approx(0.75)
    assert found.difference == pytest.approx(0.25)
    # The most confident disagreement first (c: 0.95 + 0.9), the least last (d).
    assert list(found.disagreements["request_id"]) == ["c", "e", "b", "d"]
    first = found.disagreements.iloc[1]  # the canary one, oriented champion / challenger
    assert (first["champion"], first["challenger"]) == ("Pools & accessories", "Used books")
    assert first["champion_probability"] == pytest.approx(0.7)
    per_class = found.per_class.set_index("code")
    assert per_class.loc[POOL, "requests"] == 3 and per_class.loc[POOL, "agreement"] == 1 / 3
    assert per_class.loc[TOY, "agreement"] == 0.0
    assert found.champion_latency.p50 == pytest.approx(4.0)  # served by the champion: 4 of 5
    assert found.challenger_latency.p50 == pytest.approx(1.0)
    assert "too few labels to tell" in found.evidence()


def test_the_latest_challenger_seen_is_compared_by_default(engine: Engine) -> None:
    log(engine, "a", (POOL, 0.9, 1), (POOL, 0.9, 2), minutes=1)
    log(engine, "b", (POOL, 0.9, 1), (BOOK, 0.9, 3), minutes=2)
    with engine.connect() as conn:
        found = compare(conn, since=T0)
        nothing = compare(conn, since=T0 + timedelta(hours=1))
    assert found.challenger_version == 3 and found.pairs == 1 and found.agreement == 0.0
    assert nothing.pairs == 0 and nothing.agreement is None and nothing.labelled == 0
    assert nothing.accuracy(challenger=True) is None and nothing.difference is None
    assert "no feedback" in nothing.evidence()


def test_wilson_interval_matches_the_textbook() -> None:
    interval = wilson(8, 10)
    assert interval is not None
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.490, 0.943)
    assert wilson(0, 0) is None
    full = wilson(10, 10)
    assert (
        full is not None
        and full.high == pytest.approx(1.0)
        and full.low == pytest.approx(0.722, abs=1e-3)
    )


def test_the_live_gate_needs_enough_labels_and_no_worse_accuracy(engine: Engine) -> None:
    for i in range(LIVE_MIN_LABELLED - 1):
        log(engine, f"r{i}", (POOL, 0.9, 1), (POOL, 0.9, 2), truth=POOL)
    with engine.connect() as conn:
        passed, reason = live_verdict(compare(conn, since=T0, challenger_version=2))
    assert not passed and f"{LIVE_MIN_LABELLED - 1} labelled request(s)" in reason
    log(engine, "wrong", (POOL, 0.9, 1), (BOOK, 0.9, 2), truth=POOL)  # the challenger misses one
    with engine.connect() as conn:
        found = compare(conn, since=T0, challenger_version=2)
    passed, reason = live_verdict(found)
    assert not passed and "29 of 30" in reason and "< the champion's 30" in reason
    log(engine, "right", (POOL, 0.9, 1), (BOOK, 0.9, 2), truth=BOOK)  # and gets one back
    with engine.connect() as conn:
        passed, reason = live_verdict(compare(conn, since=T0, challenger_version=2))
    assert passed and "≥ the champion's 30" in reason
    assert "no clear difference" in found.evidence()  # 30 labels, one discordant pair
