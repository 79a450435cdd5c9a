"""The API against two real models in a temporary MLflow store, its lifespan running."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from api.main import create_app
from core.access import Actor
from core.data.categories import CATEGORY_BY_CODE
from core.db.engine import ensure_schema, make_engine
from core.inference_log import feedback_accuracy, history, record_feedback
from core.settings import Settings
from tests.api.conftest import TOKEN, ModelStore, api_settings

POOL = {"designation": "Piscine tubulaire ronde 3,66 x 0,76 m", "description": "Filtre inclus"}
UNREACHABLE_DB = "postgresql+psycopg2://postgres@127.0.0.1:1/unreachable"


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def metric(client: TestClient, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    text = client.get("/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def served_version(client: TestClient) -> int | None:
    model = client.get("/health").json()["model"]
    return model["version"] if model else None


def test_serves_the_champion_with_top_k_and_category_names(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["model_loaded"] and health["last_error"] is None
    assert health["model"]["version"] == 1 and health["model"]["alias"] == "champion"
    assert client.get("/ready").json() == {"ready": True, "version": 1}
    assert len(client.get("/model").json()["classes"]) == 27

    answer = client.post("/predict", json=POOL).json()
    assert answer["code"] == 2583 and answer["category"] == "Pools & accessories"
    assert answer["model"] == {
        "name": "rakuten-product-classifier",
        "version": 1,
        "alias": "champion",
    }
    assert len(answer["request_id"]) == 32 and answer["latency_ms"] > 0
    top = answer["top_k"]
    assert len(top) == 5 and top[0]["code"] == answer["code"]
    assert [c["probability"] for c in top] == sorted((c["probability"] for c in top), reverse=True)
    assert all(CATEGORY_BY_CODE[c["code"]].label_en == c["category"] for c in top)
    assert len(client.post("/predict", json={**POOL, "top_k": 27}).json()["top_k"]) == 27
    assert client.post("/predict", json={"designation": "Piscine hors-sol"}).status_code == 200
    assert "MLFLOW_REGISTRY_URI" not in os.environ  # loading exported nothing to child processes


def test_explain_says_why_with_exact_contributions(
    client: TestClient, model_store: ModelStore
) -> None:
    plain = client.post("/predict", json=POOL).json()
    answer = client.post("/predict", json={**POOL, "explain": True}).json()
    assert plain["explanation"] is None and answer["code"] == plain["code"]
    why = answer["explanation"]
    predicted, runner_up = why["predicted"], why["runner_up"]
    assert predicted["code"] == answer["code"] and runner_up["code"] == answer["top_k"][1]["code"]
    assert "temperature" in why["scores"]  # the default recipe is the softmax SVM
    for part in (predicted, runner_up):
        listed = sum(t["contribution"] for t in part["terms"])
        assert part["intercept"] + listed + part["other_terms"] == pytest.approx(part["score"])
        assert all(
            t["contribution"] == pytest.approx(t["tfidf"] * t["coefficient"]) for t in part["terms"]
        )
        sizes = [abs(t["contribution"]) for t in part["terms"]]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) == 10
    words = {w["word"]: w["contribution"] for w in predicted["words"]}
    assert max(words, key=words.__getitem__) in {"piscine", "tubulaire", "filtre", "ronde"}
    # The same version's pipeline, scored by scikit-learn, gives the same score.
    pipeline = model_store.store().load_pipeline(model_store.store().champion_ref())
    frame = pd.DataFrame([POOL])
    scores = pipeline[-1].decision_function(pipeline[:-1].transform(frame))[0]
    column = list(pipeline.classes_).index(predicted["code"])
    assert predicted["score"] == pytest.approx(scores[column], abs=1e-6)


def test_batch_keeps_order_and_is_as_good_as_the_model(
    client: TestClient, model_store: ModelStore
) -> None:
    sample = model_store.holdout.sample(40, random_state=3)  # type: ignore[attr-defined]
    products = [
        {"designation": d, "description": s}
        for d, s in zip(sample.designation, sample.description, strict=True)
    ]
    answer = client.post("/predict/batch", json={"products": products, "top_k": 2}).json()
    predictions = answer["predictions"]
    assert len(predictions) == 40 and answer["model"]["version"] == 1
    assert all(len(p["top_k"]) == 2 for p in predictions)
    assert len({p["request_id"] for p in predictions}) == 40
    single = client.post("/predict", json=products[7]).json()
    assert predictions[7]["code"] == single["code"]
    correct = sum(p["code"] == c for p, c in zip(predictions, sample.prdtypecode, strict=True))
    assert correct / 40 >= 0.6


def test_starts_without_a_champion_and_is_not_ready(tmp_path: Path) -> None:
    empty_store = f"sqlite:///{tmp_path / 'empty-mlflow.db'}"
    with TestClient(create_app(api_settings(tmp_path, empty_store))) as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["model_loaded"] is False
        assert "no champion yet" in health.json()["last_error"]
        ready = client.get("/ready")
        assert ready.status_code == 503 and "no champion yet" in ready.json()["detail"]
        predict = client.post("/predict", json=POOL)
        assert predict.status_code == 503 and "no model loaded" in predict.json()["detail"]
        assert client.get("/model").status_code == 503
        assert metric(client, "rakuten_api_model_loaded") == 0


def test_loads_from_the_store_in_its_settings_whatever_the_process_points_at(
    tmp_path: Path, model_store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        with TestClient(create_app(api_settings(tmp_path, model_store.tracking_uri))) as client:
            assert served_version(client) == 1, client.get("/health").json()["last_error"]
    finally:
        mlflow.set_tracking_uri(before)


def test_starts_with_mlflow_down_and_says_so(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, "http://127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert not health["model_loaded"]
        assert "MLflow not reachable at http://127.0.0.1:1" in health["last_error"]
        assert client.get("/ready").status_code == 503


def test_follows_promotion_and_rollback_without_dropping_requests(
    client: TestClient, model_store: ModelStore
) -> None:
    def swap_to(version: int) -> None:
        deadline = time.monotonic() + 20
        while served_version(client) != version:
            assert time.monotonic() < deadline, f"version {version} not served in time"
            assert client.post("/predict", json=POOL).status_code == 200  # no request dropped

    try:
        model_store.force(2)
        swap_to(2)
        assert client.post("/predict", json=POOL).json()["model"]["version"] == 2
        model_store.rollback()
        swap_to(1)
        assert client.post("/predict", json=POOL).json()["model"]["version"] == 1
    finally:
        if model_store.champion() != 1:
            model_store.force(1)
    assert metric(client, "rakuten_api_model_reloads_total", outcome="loaded") == 3
    assert metric(client, "rakuten_api_model_version") == 1
    assert metric(client, "rakuten_api_model_info", version="1") == 1
    assert metric(client, "rakuten_api_model_info", version="2") == 0  # the old one is gone


def test_reload_endpoint_needs_the_token_and_swaps_at_once(
    tmp_path: Path, model_store: ModelStore
) -> None:
    settings = api_settings(tmp_path, model_store.tracking_uri, api_poll_seconds=3600)
    with TestClient(create_app(settings)) as client:
        assert client.post("/model/reload").status_code == 401
        wrong = client.post("/model/reload", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "token" in wrong.json()["detail"]
        try:
            model_store.force(2)
            assert served_version(client) == 1  # the poll is an hour away
            reloaded = client.post("/model/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert reloaded.status_code == 200 and reloaded.json()["model"]["version"] == 2
            assert served_version(client) == 2
            # Without waiting (the train flow): 202 with what is served now, the load after it.
            model_store.force(1)
            asked = client.post(
                "/model/reload?wait=false", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert asked.status_code == 202 and asked.json()["model"]["version"] == 2
            assert served_version(client) == 1  # the test client runs the background load
        finally:
            if model_store.champion() != 1:
                model_store.force(1)

    disabled = api_settings(tmp_path, model_store.tracking_uri, api_token="")
    with TestClient(create_app(disabled)) as client:
        answer = client.post("/model/reload", headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 403 and "RAKUTEN_API_TOKEN" in answer.json()["detail"]


def test_metrics_move_with_requests(client: TestClient) -> None:
    ok = {"endpoint": "/predict", "method": "POST", "status": "200"}
    before = metric(client, "rakuten_api_requests_total", **ok)
    pools = metric(client, "rakuten_api_predictions_total", code="2583")
    timed = metric(client, "rakuten_api_request_duration_seconds_count", endpoint="/predict")
    for _ in range(3):
        client.post("/predict", json=POOL)
    client.post("/predict/batch", json={"products": [POOL, POOL]})
    client.post("/predict", json={"designation": " "})
    client.get("/no/such/page")

    assert metric(client, "rakuten_api_requests_total", **ok) == before + 3
    assert metric(client, "rakuten_api_predictions_total", code="2583") == pools + 5
    assert (
        metric(client, "rakuten_api_request_duration_seconds_count", endpoint="/predict")
        == timed + 4
    )
    assert metric(client, "rakuten_api_requests_total", endpoint="/predict", status="422") >= 1
    assert metric(client, "rakuten_api_requests_total", endpoint="unmatched", status="404") == 1
    assert metric(client, "rakuten_api_model_version") == 1
    assert metric(client, "rakuten_api_model_loaded") == 1
    assert metric(client, "rakuten_api_microbatch_size_count") >= 3  # one call per lone request


def test_every_prediction_reaches_the_inference_log(client: TestClient, settings: Settings) -> None:
    ids = [client.post("/predict", json=POOL).json()["request_id"] for _ in range(3)]
    batch = client.post("/predict/batch", json={"products": [POOL, {"designation": "Livre"}]})
    ids += [p["request_id"] for p in batch.json()["predictions"]]
    engine = make_engine(settings.database_url)
    ensure_schema(engine)

    def logged() -> int:
        with engine.connect() as conn:
            return len(history(conn))

    wait_for(lambda: logged() == 5)
    with engine.connect() as conn:
        rows = history(conn)
    assert set(rows.request_id) == set(ids)
    assert set(rows.source) == {"predict", "batch"} and set(rows.model_version) == {1}
    assert (rows.latency_ms > 0).all() and rows.probability.between(0, 1).all()
    assert rows.set_index("request_id").loc[ids[0], "designation"] == POOL["designation"]
    assert metric(client, "rakuten_api_inference_log_rows_written_total") == 5

    marker = Actor.local_admin()
    record_feedback(engine, ids[0], 2583, marker)
    record_feedback(engine, ids[1], 10, marker)
    with engine.connect() as conn:
        accuracy = feedback_accuracy(conn)
    assert (accuracy.labelled, accuracy.correct) == (2, 1)
    engine.dispose()


def test_predictions_succeed_when_the_database_is_down(
    tmp_path: Path, model_store: ModelStore
) -> None:
    settings = api_settings(tmp_path, model_store.tracking_uri, database_url=UNREACHABLE_DB)
    with TestClient(create_app(settings, flush_seconds=0.05)) as client:
        for _ in range(4):
            assert client.post("/predict", json=POOL).status_code == 200
        wait_for(lambda: metric(client, "rakuten_api_inference_log_write_failures_total") >= 1)
        assert client.post("/predict/batch", json={"products": [POOL]}).status_code == 200
        # Kept and retried, not lost: the rows wait in the queue and /health says why.
        wait_for(lambda: metric(client, "rakuten_api_inference_log_queue_rows") == 5)
        assert metric(client, "rakuten_api_inference_log_rows_written_total") == 0
        assert metric(client, "rakuten_api_inference_log_state", state="retrying") == 1
        log = client.get("/health").json()["inference_log"]
        assert log["state"] == "retrying" and log["last_error"] and log["dropped"] == {}
    spooled = (tmp_path / "var" / "spool").glob("*.jsonl")  # stopped: spilled for the next start
    assert sum(len(f.read_text().splitlines()) for f in spooled) == 5


def test_the_log_keeps_what_was_buffered_when_the_api_stops(
    tmp_path: Path, model_store: ModelStore, engine_of: Callable[[Settings], Engine]
) -> None:
    settings = api_settings(tmp_path, model_store.tracking_uri)
    with TestClient(create_app(settings, flush_seconds=3600)) as client:
        for _ in range(3):
            client.post("/predict", json=POOL)
    with engine_of(settings).connect() as conn:
        assert len(history(conn)) == 3


@pytest.fixture
def engine_of() -> Callable[[Settings], Engine]:
    engines: list[Engine] = []

    def make(settings: Settings) -> Engine:
        engines.append(make_engine(settings.database_url))
        return engines[-1]

    yield make  # type: ignore[misc]
    for engine in engines:
        engine.dispose()
