"""The drift check's two sides from a real database, and a check of live-like traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.access import Actor
from core.data import loading
from core.data.store import import_products
from core.inference_log import InferenceRecord, write_records
from core.monitoring import check_drift, current_window, reference_products
from core.train import TrainConfig, fit

T0 = datetime(2026, 11, 27, 9, tzinfo=UTC)


@pytest.fixture
def loaded(engine: Engine, catalogue: pd.DataFrame) -> Engine:
    admin = Actor.local_admin()
    import_products(engine, catalogue, source="test", holdout_fraction=0.15, seed=1, actor=admin)
    loading.initialize(engine, 4_000, admin)  # 40 %
    loading.load_next_batch(engine, 1_000, admin)  # +10 %
    return engine


def log(engine: Engine, products: pd.DataFrame, codes, start: datetime) -> None:
    write_records(
        engine,
        [
            InferenceRecord(
                f"r{i}-{start:%H%M}",
                start + timedelta(seconds=i),
                p.designation,
                p.description,
                int(c),
                0.8,
                1,
                2.0,
                "predict",
            )
            for i, (p, c) in enumerate(zip(products.itertuples(), codes, strict=True))
        ],
    )


def test_the_reference_is_what_the_champion_saw(loaded: Engine) -> None:
    with loaded.connect() as conn:
        everything = reference_products(conn, None, size=10_000)
        first = reference_products(conn, 500, size=10_000)
        sampled = reference_products(conn, None, size=100, seed=3)
    assert len(everything) > 1_000 and len(first) == 500 and len(sampled) == 100
    assert set(first.designation) <= set(everything.designation)
    assert list(first.columns) == ["designation", "description", "prdtypecode"]


def test_the_window_is_the_newest_predictions_in_range(loaded: Engine, catalogue) -> None:
    log(loaded, catalogue.iloc[:50], catalogue.prdtypecode.iloc[:50], T0)
    log(loaded, catalogue.iloc[50:80], catalogue.prdtypecode.iloc[50:80], T0 + timedelta(hours=2))
    with loaded.connect() as conn:
        assert len(current_window(conn)) == 80
        assert len(current_window(conn, since=T0 + timedelta(hours=1))) == 30
        assert len(current_window(conn, until=T0 + timedelta(hours=1))) == 50
        assert len(current_window(conn, limit=10)) == 10


def test_live_traffic_like_the_training_data_is_not_drift_and_a_summer_wave_is(
    loaded: Engine, catalogue: pd.DataFrame
) -> None:
    with loaded.connect() as conn:
        reference = reference_products(conn, None)
    pipeline = fit(TrainConfig(max_features=5_000, word_ngram_max=1), reference).pipeline
    same = catalogue.sample(600, random_state=8)
    log(loaded, same, pipeline.predict(same[["designation", "description"]]), T0)
    summer = catalogue[catalogue.prdtypecode.isin([2583, 2582])].sample(
        600, replace=True, random_state=9
    )
    log(
        loaded,
        summer,
        pipeline.predict(summer[["designation", "description"]]),
        T0 + timedelta(hours=1),
    )
    with loaded.connect() as conn:
        calm = current_window(conn, until=T0 + timedelta(hours=1))
        wave = current_window(conn, since=T0 + timedelta(hours=1))
    calm_summary, _ = check_drift(pipeline, reference, calm, threshold=0.3)
    wave_summary, html = check_drift(pipeline, reference, wave, threshold=0.3)
    assert calm_summary.verdict == "no drift", calm_summary
    assert wave_summary.verdict == "drift" and "predicted_code" in wave_summary.drifted_columns
    assert "predicted_code" in html
