"""The app's PredictionManager over the HTTP predictor, against the real API under uvicorn (and
against no API at all)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

from app.managers.errors import Rejected, ServiceUnavailable
from app.managers.predictions import PredictionManager
from core.adapters.errors import Refused
from core.adapters.predictor import HttpPredictor
from core.service_metrics import window_stats
from tests.api.conftest import TOKEN, ModelStore, api_settings, running_api
from tests.ports import free_port


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, model_store: ModelStore):
    """Start the API under uvicorn in a thread; returns its URL. Stopped at module end."""
    with ExitStack() as servers:

        def start(tracking_uri: str | None = None) -> str:
            tmp = tmp_path_factory.mktemp("uvicorn")
            settings = api_settings(tmp, tracking_uri or model_store.tracking_uri)
            return servers.enter_context(running_api(settings))

        yield start


@pytest.fixture(scope="module")
def api(serve) -> Iterator[PredictionManager]:
    yield PredictionManager(HttpPredictor(serve(), TOKEN), batch_size=3)


def test_health_and_predict(api: PredictionManager) -> None:
    health = api.health()
    assert health.model_loaded and health.version == 1 and health.last_error is None
    result = api.predict("Piscine tubulaire ronde 3,66 x 0,76 m", top_k=3)
    assert result.code == 2583 and result.category == "Pools & accessories"
    assert list(result.top.columns) == ["code", "category", "probability"] and len(result.top) == 3
    assert result.model_version == 1 and 0 < result.latency_ms <= result.roundtrip_ms


def test_batch_is_sent_in_chunks_with_progress(api: PredictionManager) -> None:
    products = pd.DataFrame({"productid": range(7), "designation": ["Piscine ronde"] * 7})
    seen: list[tuple[int, int]] = []
    results = api.predict_batch(products, lambda done, total: seen.append((done, total)))
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert list(results.productid) == list(range(7)) and set(results.code) == {2583}
    assert results.request_id.is_unique and set(results.model_version) == {1}


def test_refusals_name_the_problem(api: PredictionManager) -> None:
    with pytest.raises(Rejected, match="designation is blank"):
        api.predict("   ")
    with pytest.raises(Refused, match="No RAKUTEN_API_TOKEN"):
        HttpPredictor(api.api_url).reload()
    with pytest.raises(Refused, match="wrong bearer token"):
        HttpPredictor(api.api_url, "not-the-token").reload()
    assert HttpPredictor(api.api_url, TOKEN).reload().version == 1


def test_api_down_names_the_url_and_how_to_start_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match=f"not reachable at {url}.*make run.*make api"):
        PredictionManager(HttpPredictor(url)).health()


def test_no_model_names_the_reason(serve, tmp_path: Path) -> None:
    manager = PredictionManager(HttpPredictor(serve(f"sqlite:///{tmp_path / 'empty.db'}")))
    assert manager.health().model_loaded is False
    with pytest.raises(
        ServiceUnavailable,
        match=r"serves no model \(no model loaded: no champion yet.*\)\. Promote",
    ):
        manager.predict("Piscine")


def test_service_health_from_two_scrapes_of_the_real_api(api: PredictionManager) -> None:
    before = api.scrape()
    for _ in range(4):
        api.predict("Piscine ronde")
    stats = window_stats(before, api.scrape())
    assert stats.request_rate > 0 and stats.error_rate == 0 and stats.p95_ms is not None
    assert stats.predictions == {"Pools & accessories": 4}
