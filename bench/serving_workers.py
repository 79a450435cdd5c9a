"""The serving benchmark's workers, each run in a fresh interpreter by ``bench/serving.py``.

``prepare`` trains, logs, registers and promotes the model both servers serve and saves the
products the load cycles through; ``profile`` times each server's ASGI app and the parts inside
it in-process (no socket, no uvicorn), the probes taking turns.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_NAME = "rakuten-product-classifier"
MODEL_URI = f"models:/{MODEL_NAME}/1"
SAMPLE_PRODUCTS = 500
BATCH_SIZE = 100
PROFILE_ROUNDS = 20  # in-process profile: rounds in which every probe runs a block of
BLOCK = 20  # calls of each one-product probe
CALL_BLOCK = 5  # and of each model call on several products
CALL_SIZES = (1, 4, 8, 16, 100)  # products per model call (micro-batch sizes and more)
BATCH_BLOCK = 2  # and of each batch probe
LOG_BATCH = 500  # rows the API's inference-log writer inserts at a time (its batch_size)


def work_prepare(tmp: Path, rows: int) -> dict[str, Any]:
    """Train the default config, log it, register it as version 1 and make it champion."""
    from core import promotion
    from core.access import Actor
    from core.adapters.model_store import MlflowModelStore
    from core.data.queries import TrainingData
    from core.data.store import catalogue_digest, split_holdout
    from core.data.synthetic import generate_catalogue
    from core.db.engine import ensure_schema, make_engine
    from core.evaluate import evaluate
    from core.train import TrainConfig, fit

    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    split = split_holdout(generate_catalogue(rows, seed=42), 0.15, 42)
    products, holdout = split.pool, split.holdout
    data = TrainingData(
        products, holdout, 10_000, len(products), catalogue_digest(products.productid)
    )
    config = TrainConfig()
    result = fit(config, products)
    evaluation = evaluate(result.pipeline, holdout)
    bench = Actor.os_user()
    store = MlflowModelStore(tracking_uri)
    logged = store.log_run(config, result, evaluation, data, run_name="bench serving", actor=bench)
    version = store.register(logged)
    engine = make_engine(f"sqlite:///{tmp / 'control_room.db'}")
    ensure_schema(engine)
    promotion.promote(engine, store, version, margin=0.0, actor=bench)
    engine.dispose()

    sample = holdout.sample(SAMPLE_PRODUCTS, random_state=0)
    inputs = [
        {"designation": str(row.designation), "description": str(row.description or "")}
        for row in sample.itertuples()
    ]
    (tmp / "products.json").write_text(json.dumps(inputs))
    vectorizer = result.pipeline.named_steps["features"].transformer_list[0][1]
    return {
        "train_rows": len(products),
        "holdout_rows": len(holdout),
        "fit_s": result.fit_seconds,
        "weighted_f1": evaluation.weighted_f1,
        "vocabulary": len(vectorizer.vocabulary_),
        "classes": len(result.pipeline.classes_),
        "version": version,
        "mean_input_chars": sum(len(p["designation"]) + len(p["description"]) for p in inputs)
        / len(inputs),
    }


def encode_bodies(products: list[dict[str, str]]) -> dict[str, list[bytes]]:
    """Every request body, encoded once up front so that the client only sends bytes."""
    columns = ["designation", "description"]

    def split(chunk: list[dict[str, str]]) -> bytes:
        data = [[p["designation"], p["description"]] for p in chunk]
        return json.dumps({"dataframe_split": {"columns": columns, "data": data}}).encode()

    batches = [products[i : i + BATCH_SIZE] for i in range(0, len(products), BATCH_SIZE)]
    return {
        "api": [json.dumps(p).encode() for p in products],
        "mlflow": [split([p]) for p in products],
        "api_batch": [json.dumps({"products": chunk}).encode() for chunk in batches],
        "mlflow_batch": [split(chunk) for chunk in batches],
    }


async def _asgi_post(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    """One POST through an ASGI app in-process: what the server does, minus socket and uvicorn."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    received, answered = False, asyncio.Event()
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # as uvicorn does: nothing more until the answer is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"in-process {path} answered {status}: {b''.join(chunks)[:300]!r}")
    return status, b"".join(chunks)


Probe = Callable[[int], Any]  # one timed call; may return an awaitable (an in-process request)


async def _interleaved_medians(
    probes: dict[str, tuple[Probe, int]], rounds: int
) -> dict[str, float]:
    """Median microseconds of each probe, the probes taking turns round after round.

    Taking turns puts every probe under the same background noise, so their ratios hold even
    when the machine is busy. Within a round each probe runs a block of calls back to back, as a
    server repeats one path, and the first call of each block (cold caches) is not recorded.
    ``probes`` maps a name to ``(call, calls per round)``; ``call`` gets a running count.
    """
    times: dict[str, list[float]] = {name: [] for name in probes}
    count = dict.fromkeys(probes, 0)
    for round_ in range(-1, rounds):  # one warm-up round, not recorded
        for name, (probe, block) in probes.items():
            for call in range(block + 1):
                start = time.perf_counter()
                result = probe(count[name])
                if asyncio.iscoroutine(result):
                    await result
                elapsed = time.perf_counter() - start
                count[name] += 1
                if round_ >= 0 and call > 0:
                    times[name].append(elapsed)
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def work_profile(tmp: Path, rows: int) -> dict[str, Any]:
    """Time the model's steps and both ASGI apps in-process (medians, probes taking turns)."""
    import dataclasses
    import types

    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from mlflow.pyfunc import scoring_server

    from api.main import create_app
    from api.model import ServedModel
    from api.routes import INLINE_BATCH, _answer, _frame
    from api.schemas import BatchRequest, ModelRef, PredictRequest, PredictResponse
    from core.db.engine import ensure_schema, make_engine
    from core.features import combine_texts
    from core.inference_log import InferenceRecord, write_records
    from core.settings import Settings
    from core.train import INPUT_COLUMNS

    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    products = json.loads((tmp / "products.json").read_text())
    bodies = encode_bodies(products)
    n = len(products)
    pipeline = mlflow.sklearn.load_model(MODEL_URI)
    pyfunc_model = mlflow.pyfunc.load_model(MODEL_URI)
    served = ServedModel.of(pipeline, version=1, run_id="")
    text_step, feature_step, classifier = (pipeline.named_steps[s] for s in pipeline.named_steps)
    vectorizer = feature_step.transformer_list[0][1]
    analyzer = vectorizer.build_analyzer()
    coef_t = np.ascontiguousarray(classifier.coef_.T)
    requests = [PredictRequest(**p) for p in products]
    frames = [_frame([r]) for r in requests]
    texts = [text_step.transform(f) for f in frames]
    features = [feature_step.transform(t) for t in texts]
    batches = [_frame(requests[i : i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    ranked = [served.rank(f, 5) for f in frames]
    probabilities = [pipeline.predict_proba(f) for f in frames]
    fixed = types.SimpleNamespace(row=probabilities[0])  # a "pipeline" that only answers
    fixed.predict_proba = lambda _frame: fixed.row
    served_fixed = dataclasses.replace(served, pipeline=fixed)

    def rank_fixed(i: int) -> Any:  # ServedModel.rank with the model's answer already known
        fixed.row = probabilities[i % n]
        return served_fixed.rank(frames[i % n], 5)

    ranked_batches = [served.rank(b, 5) for b in batches]

    def batcher_frame(chunk: list[PredictRequest]) -> pd.DataFrame:  # as MicroBatcher._compute
        designation, description = INPUT_COLUMNS
        return pd.DataFrame(
            {
                designation: [r.designation for r in chunk],
                description: [r.description or "" for r in chunk],
            }
        )

    doubled = requests + requests  # so that a chunk may wrap around

    def model_call(size: int) -> Probe:  # one micro-batch of `size` products: frame + rank
        def call(i: int) -> Any:
            start = (i * size) % n
            return served.rank(batcher_frame(doubled[start : start + size]), 5)

        return call

    def scores(i: int) -> Any:  # the arithmetic alone: sparse row × coefficients, softmax
        z = features[i % n] @ coef_t + classifier.intercept_
        e = np.exp(z - z.max())
        return e / e.sum()

    settings = Settings(
        mlflow_tracking_uri=tracking_uri,
        database_url=f"sqlite:///{tmp / 'profile.db'}",
        var_dir=tmp / "profile-var",
        api_batch_limit=1_000,
    )
    api_app = create_app(settings)
    services = api_app.state.services
    batcher = services.batcher  # started by the lifespan, on the loop the probes run on
    stub = types.SimpleNamespace(rank=None)  # a "model" whose answer is already known

    def batched(i: int) -> Any:  # what the handler awaits: a lone request is a batch of one
        r = requests[i % n]
        return batcher.rank(served, r.designation, r.description or "", 5)

    def batched_stub(i: int) -> Any:  # the same with the model call free: the batcher alone
        r, answer = requests[i % n], ranked[i % n]
        stub.rank = lambda _frame, _k: answer
        return batcher.rank(stub, r.designation, r.description or "", 5)

    def respond(i: int) -> bytes:  # what the handler builds, then FastAPI's validate + dump
        answer = PredictResponse(
            **_answer("0" * 32, ranked[i % n][0]),
            model=ModelRef(name=served.name, version=1),
            latency_ms=1.0,
        )
        return PredictResponse.model_validate(answer).model_dump_json().encode()

    def respond_batch(i: int) -> bytes:  # as the route: ids, plain dicts, one JSONResponse
        request_id = "0" * 32
        ids = [f"{request_id}-{k}" for k in range(len(ranked_batches[i]))]
        return JSONResponse(
            {
                "request_id": request_id,
                "model": {"name": served.name, "version": 1},
                "predictions": [_answer(a, r) for a, r in zip(ids, ranked_batches[i], strict=True)],
                "latency_ms": 1.0,
            }
        ).body

    def record_batch(i: int) -> None:
        chunk = requests[i * BATCH_SIZE : (i + 1) * BATCH_SIZE]
        ids = [f"{i}-{k}-{time.perf_counter_ns()}" for k in range(len(chunk))]
        services.record(served, chunk, ranked_batches[i], ids, 1.0, "batch")

    log_engine = make_engine(f"sqlite:///{tmp / 'profile-log.db'}")
    ensure_schema(log_engine)

    def write_log(i: int) -> None:  # what the writer thread does with one full batch
        now, run = datetime.now(UTC), time.perf_counter_ns()
        records = [
            InferenceRecord(
                f"w{run}-{k}", now, p.designation, p.description or "", 10, 0.5, 1, 1.0, "predict"
            )
            for k, p in enumerate(requests[:LOG_BATCH])
        ]
        write_records(log_engine, records)

    mlflow_app = scoring_server.init(pyfunc_model)
    m = len(batches)
    probes: dict[str, tuple[Probe, int]] = {
        "api_asgi": (lambda i: _asgi_post(api_app, "/predict", bodies["api"][i % n]), BLOCK),
        "mlflow_asgi": (
            lambda i: _asgi_post(mlflow_app, "/invocations", bodies["mlflow"][i % n]),
            BLOCK,
        ),
        "parse_request": (
            lambda i: PredictRequest.model_validate_json(bodies["api"][i % n]),
            BLOCK,
        ),
        "batched": (batched, BLOCK),
        "batched_stub": (batched_stub, BLOCK),
        "frame": (lambda i: batcher_frame([requests[i % n]]), BLOCK),
        "rank": (lambda i: served.rank(frames[i % n], 5), BLOCK),
        "rank_fixed": (rank_fixed, BLOCK),
        "respond": (respond, BLOCK),
        "record": (
            lambda i: services.record(
                served,
                [requests[i % n]],
                ranked[i % n],
                [f"{i}-{time.perf_counter_ns()}"],
                1.0,
                "predict",
            ),
            BLOCK,
        ),
        "pyfunc_predict": (lambda i: pyfunc_model.predict(frames[i % n]), BLOCK),
        "predict_proba": (lambda i: pipeline.predict_proba(frames[i % n]), BLOCK),
        "text_step": (lambda i: text_step.transform(frames[i % n]), BLOCK),
        "clean_only": (
            lambda i: combine_texts([requests[i % n].designation], [requests[i % n].description]),
            BLOCK,
        ),
        "features": (lambda i: feature_step.transform(texts[i % n]), BLOCK),
        "vectorizer": (lambda i: vectorizer.transform(texts[i % n]), BLOCK),
        "tokenize": (lambda i: analyzer(texts[i % n][0]), BLOCK),
        "classifier": (lambda i: classifier.predict_proba(features[i % n]), BLOCK),
        "scores": (scores, BLOCK),
        **{f"call_{size}": (model_call(size), CALL_BLOCK) for size in CALL_SIZES},
        "api_asgi_batch": (
            lambda i: _asgi_post(api_app, "/predict/batch", bodies["api_batch"][i % m]),
            BATCH_BLOCK,
        ),
        "mlflow_asgi_batch": (
            lambda i: _asgi_post(mlflow_app, "/invocations", bodies["mlflow_batch"][i % m]),
            BATCH_BLOCK,
        ),
        "parse_batch": (
            lambda i: BatchRequest.model_validate_json(bodies["api_batch"][i % m]),
            BATCH_BLOCK,
        ),
        "frame_batch": (
            lambda i: _frame(requests[(i % m) * BATCH_SIZE : (i % m + 1) * BATCH_SIZE]),
            BATCH_BLOCK,
        ),
        "rank_batch": (lambda i: served.rank(batches[i % m], 5), BATCH_BLOCK),
        "rank_batch_pool": (  # the same as the route makes it: in the thread pool
            lambda i: run_in_threadpool(served.rank, batches[i % m], 5),
            BATCH_BLOCK,
        ),
        "batch_predict_proba": (lambda i: pipeline.predict_proba(batches[i % m]), BATCH_BLOCK),
        "respond_batch": (lambda i: respond_batch(i % m), BATCH_BLOCK),
        "record_batch": (lambda i: record_batch(i % m), BATCH_BLOCK),
        "pyfunc_batch": (lambda i: pyfunc_model.predict(batches[i % m]), BATCH_BLOCK),
        "write_log": (write_log, BATCH_BLOCK),
    }

    async def measure() -> dict[str, float]:
        async with api_app.router.lifespan_context(api_app):  # model loaded, batcher and writer
            return await _interleaved_medians(probes, PROFILE_ROUNDS)

    timings = asyncio.run(measure())
    log_engine.dispose()
    return timings | {"inline_batch": INLINE_BATCH}  # /predict/batch ranks bigger ones in a thread


WORKERS: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "prepare": work_prepare,
    "profile": work_profile,
}
