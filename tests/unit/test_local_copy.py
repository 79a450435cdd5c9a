"""The local copy of the champion: a round trip, refused when corrupt or not private, and the
follower's use of it (only while the registry cannot be reached)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from api.metrics import ApiMetrics
from api.model import ChampionFollower
from core.data.synthetic import generate_catalogue
from core.registry import CHAMPION
from core.serving import local_copy
from core.serving.compile import serving_scorer
from core.serving.compiled import CompiledModel
from core.train import TextColumns
from tests.fakes_serving import FakeModelStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def products() -> pd.DataFrame:
    return generate_catalogue(600, seed=3)


def _compiled(products: pd.DataFrame, c: float) -> CompiledModel:
    pipeline = Pipeline(
        [
            ("text", TextColumns()),
            ("features", TfidfVectorizer(min_df=2, dtype=np.float32)),
            ("classifier", LogisticRegression(C=c, max_iter=200)),
        ]
    )
    pipeline.fit(products[["designation", "description"]], products.prdtypecode)
    scorer = serving_scorer(pipeline)
    assert isinstance(scorer, CompiledModel)
    return scorer


@pytest.fixture(scope="module")
def compiled(products: pd.DataFrame) -> CompiledModel:
    return _compiled(products, 1.0)


def _manifest(version: int = 3) -> local_copy.Manifest:
    return local_copy.Manifest("m", version, "run3", NOW, NOW, "http://mlflow.test", "")


def _probabilities(model: Any, products: pd.DataFrame) -> np.ndarray:
    return np.asarray(
        model.predict_proba_products(
            products.designation.tolist(), products.description.fillna("").tolist()
        )
    )


def test_a_round_trip_keeps_the_answers_and_the_files_are_private(
    tmp_path: Path, compiled: CompiledModel, products: pd.DataFrame
) -> None:
    folder = local_copy.champion_dir(tmp_path / "var")
    assert local_copy.load(folder) is None  # no copy yet: nothing, not an error
    written = local_copy.save(folder, compiled, _manifest())
    manifest, model = local_copy.load(folder) or (None, None)
    assert manifest == written and manifest.version == 3 and len(manifest.sha256) == 64
    np.testing.assert_array_equal(
        _probabilities(model, products[:50]), _probabilities(compiled, products[:50])
    )
    for folder_ in (folder, folder.parent):
        assert stat.S_IMODE(folder_.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "manifest.json", "model.pickle"]


def test_a_corrupt_or_foreign_copy_is_refused_with_the_reason(
    tmp_path: Path, compiled: CompiledModel
) -> None:
    folder = tmp_path / "champion"
    local_copy.save(folder, compiled, _manifest())
    pickle_file = folder / local_copy.MODEL_FILE
    data = pickle_file.read_bytes()
    pickle_file.write_bytes(data[: len(data) // 2])  # cut short, as by a full disk
    with pytest.raises(local_copy.LocalCopyError, match="corrupt: its SHA-256 differs"):
        local_copy.load(folder)

    local_copy.save(folder, compiled, _manifest())
    pickle_file.chmod(0o620)
    with pytest.raises(local_copy.LocalCopyError, match="writable by others"):
        local_copy.load(folder)
    pickle_file.chmod(0o600)
    assert local_copy.load(folder) is not None

    (folder / local_copy.MANIFEST_FILE).write_text(json.dumps({"name": "m"}))
    with pytest.raises(local_copy.LocalCopyError, match="manifest .* is corrupt"):
        local_copy.load(folder)
    local_copy.remove(folder)
    assert local_copy.load(folder) is None


def test_the_follower_serves_the_copy_only_while_the_registry_is_unreachable(
    tmp_path: Path, products: pd.DataFrame
) -> None:
    models = {1: _compiled(products, 1.0), 2: _compiled(products, 0.05)}
    store = FakeModelStore()
    store.add_run(0.8)
    store.add_run(0.9)
    store.set_alias(CHAMPION, 1)
    folder = tmp_path / "champion"

    def follower() -> ChampionFollower:
        return ChampionFollower(
            store, ApiMetrics(), loader=lambda _s, ref: models[ref.version], local_copy_dir=folder
        )

    first = follower()
    assert first.check() and not first.serving_local_copy
    assert local_copy.read_manifest(folder).version == 1  # type: ignore[union-attr]

    store.down = True  # the registry goes away: the model stays, the outage is dated
    assert not first.check() and first.current.version == 1  # type: ignore[union-attr]
    since = first.registry_unreachable_since
    assert since is not None and "MLflow not reachable" in (first.last_error or "")
    first.check()
    assert first.registry_unreachable_since == since  # the start of the run of failures

    restarted = follower()  # an API started during the outage
    assert restarted.check() and restarted.serving_local_copy
    assert restarted.current is not None and restarted.current.version == 1
    assert restarted.last_error is not None
    assert restarted.last_error.startswith("MLflow unreachable since ")
    assert "serving the local copy of v1 saved at" in restarted.last_error
    sample = products[:30]
    np.testing.assert_array_equal(
        _probabilities(restarted.current.scorer, sample), _probabilities(models[1], sample)
    )

    store.down = False  # back: the registry is the truth again, and the alias moved meanwhile
    store.set_alias(CHAMPION, 2)
    assert restarted.check() and restarted.current.version == 2
    assert not restarted.serving_local_copy and restarted.registry_unreachable_since is None
    assert restarted.last_error is None
    assert local_copy.read_manifest(folder).version == 2  # type: ignore[union-attr]


def test_the_copy_is_never_used_when_the_registry_answers(
    tmp_path: Path, compiled: CompiledModel
) -> None:
    folder = tmp_path / "champion"
    local_copy.save(folder, compiled, _manifest(version=1))
    store = FakeModelStore()  # reachable, but no champion: said as it is, no model served
    follower = ChampionFollower(store, ApiMetrics(), local_copy_dir=folder)
    assert not follower.check() and follower.current is None
    assert follower.last_error is not None and "no champion yet" in follower.last_error
    assert follower.registry_unreachable_since is None


def test_a_corrupt_copy_during_an_outage_is_reported_and_nothing_is_served(
    tmp_path: Path, compiled: CompiledModel, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "champion"
    local_copy.save(folder, compiled, _manifest(version=1))
    (folder / local_copy.MODEL_FILE).write_bytes(b"not a pickle")
    store = FakeModelStore()
    store.down = True
    follower = ChampionFollower(store, ApiMetrics(), local_copy_dir=folder)
    assert not follower.check() and follower.current is None
    assert follower.last_error is not None
    assert "MLflow not reachable" in follower.last_error
    assert (
        "the local copy cannot be used" in follower.last_error and "corrupt" in follower.last_error
    )
    follower.check()  # said in /health at every check, in the log once
    assert follower.current is None and "corrupt" in (follower.last_error or "")
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "local copy" in r.message]
    assert len(errors) == 1, errors
