"""Serving benchmark: the predictor API against ``mlflow models serve``, same model, same run.

    .venv/bin/python bench/serving.py [--rows N] [--seconds S] [--write docs/BENCHMARKS.md]

A worker subprocess trains the default ``TrainConfig()`` on the built-in catalogue's pool (84,916
rows by default, split 85/15 as at import), logs it to a fresh SQLite MLflow store, registers it as
version 1 of ``rakuten-product-classifier`` and promotes it to champion. The same version is then
served two ways at once, each as it ships and with one worker process:

1. the API, ``uvicorn api.main:create_app --factory --workers 1 --no-access-log``: loads
   ``@champion``, answers the top 5 classes with names and probabilities, and queues every
   prediction to the inference log (SQLite, background thread), which is part of its cost.
   ``/predict`` micro-batches: concurrent single products waiting at the same moment share one
   model call (``api/batching.py``);
2. ``mlflow models serve -m models:/rakuten-product-classifier/1 --env-manager local --workers 1``
   (MLflow's FastAPI scoring server under uvicorn), which answers class codes only. Its uvicorn is
   told not to write an access log either (``UVICORN_ACCESS_LOG=false``), so that neither server
   pays for a log line per request.

The load generator is this process, which imports nothing heavy: ``http.client`` keep-alive
connections on 127.0.0.1, one per thread, per-request latency from ``perf_counter``. Inputs cycle
through 500 holdout products of the synthetic catalogue (titles and HTML descriptions). After a
warm-up per server, each scenario runs on the two servers in A-B-B-A order (half the time or
count per slot) so that a drift of the shared machine weighs on both alike:

* one product per request, concurrency 1 and 16, ``--seconds`` per server and scenario:
  p50/p95/p99 latency and requests per second; the API's ``rakuten_api_microbatch_size``
  histogram is scraped from ``/metrics`` around each run for the mean products per model call;
* batches of 100 products, concurrency 1, a fixed number of requests: latency and products/s;
* the floor of each stack: a trivial ``GET`` (``/ready``, ``/ping``) at concurrency 1.

Each server's CPU time per request comes from ``/proc/<pid>/stat`` around each run, memory from
``VmRSS``/``VmHWM`` after the runs. A second worker splits the latency: each server's whole ASGI
app called in-process (no socket, no uvicorn) and the parts inside it (request, the
micro-batcher, model steps, answer, inference-log queue; model calls on 1 to 100 products), the
probes taking turns so that noise weighs on all alike. It runs
between the two halves of the concurrency-1 load, with no load applied, so that its numbers and
the client-observed ones are centred on the same moment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.markdown import write_section  # noqa: E402

SECTION = "## Serving"
GOALS = {"p50_ms": 5.0, "throughput_ratio": 3.0}
MODEL_NAME = "rakuten-product-classifier"
MODEL_URI = f"models:/{MODEL_NAME}/1"
SAMPLE_PRODUCTS = 500
BATCH_SIZE = 100
DEFAULT_BATCHES = 50  # batch requests per server
WARMUP_REQUESTS = 200  # per server, before any measurement
WARMUP_PER_CONNECTION = 5  # per connection and run, unmeasured (connect, first bytes)
PROFILE_ROUNDS = 20  # in-process profile: rounds in which every probe runs a block of
BLOCK = 20  # calls of each one-product probe
CALL_BLOCK = 5  # and of each model call on several products
CALL_SIZES = (1, 4, 8, 16, 100)  # products per model call (micro-batch sizes and more)
BATCH_BLOCK = 2  # and of each batch probe
LOG_BATCH = 500  # rows the API's inference-log writer inserts at a time (its batch_size)
WORKER_TIMEOUT_S = 900
START_TIMEOUT_S = 240
JSON = {"Content-Type": "application/json"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MICROBATCH = "rakuten_api_microbatch_size"  # the API's histogram of products per model call


# --- workers (run in subprocesses) ---------------------------------------------------------------


def work_prepare(tmp: Path, rows: int) -> dict[str, Any]:
    """Train the default config, log it, register it as version 1 and make it champion."""
    from mlflow import MlflowClient

    from core import registry
    from core.data.queries import TrainingData
    from core.data.store import catalogue_digest, split_holdout
    from core.data.synthetic import generate_catalogue
    from core.db.engine import ensure_schema, make_engine
    from core.evaluate import evaluate
    from core.tracking import log_training_run
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
    logged = log_training_run(
        tracking_uri, config, result, evaluation, data, run_name="bench serving",
        triggered_by="bench",
    )  # fmt: skip
    client = MlflowClient(tracking_uri)
    version = registry.register(client, logged.model_uri, logged.run_id, logged.model_id)
    engine = make_engine(f"sqlite:///{tmp / 'control_room.db'}")
    ensure_schema(engine)
    registry.promote(engine, client, version, margin=0.0, triggered_by="bench")
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


async def _asgi_post(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    """One POST through an ASGI app in-process: what the server does, minus socket and uvicorn."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
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
    from api.routes import INLINE_BATCH, _answer, _frame, _prediction
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
        mlflow_tracking_uri=tracking_uri, database_url=f"sqlite:///{tmp / 'profile.db'}",
        var_dir=tmp / "profile-var", api_batch_limit=1_000,
    )  # fmt: skip
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
            **_prediction("0" * 32, ranked[i % n][0]).model_dump(),
            model=ModelRef(name=served.name, version=1), latency_ms=1.0,
        )  # fmt: skip
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
            InferenceRecord(f"w{run}-{k}", now, p.designation, p.description or "", 10, 0.5, 1,
                            1.0, "predict")
            for k, p in enumerate(requests[:LOG_BATCH])
        ]  # fmt: skip
        write_records(log_engine, records)

    mlflow_app = scoring_server.init(pyfunc_model)
    m = len(batches)
    probes: dict[str, tuple[Probe, int]] = {
        "api_asgi": (lambda i: _asgi_post(api_app, "/predict", bodies["api"][i % n]), BLOCK),
        "mlflow_asgi": (
            lambda i: _asgi_post(mlflow_app, "/invocations", bodies["mlflow"][i % n]), BLOCK
        ),
        "parse_request": (
            lambda i: PredictRequest.model_validate_json(bodies["api"][i % n]), BLOCK
        ),
        "batched": (batched, BLOCK),
        "batched_stub": (batched_stub, BLOCK),
        "frame": (lambda i: batcher_frame([requests[i % n]]), BLOCK),
        "rank": (lambda i: served.rank(frames[i % n], 5), BLOCK),
        "rank_fixed": (rank_fixed, BLOCK),
        "respond": (respond, BLOCK),
        "record": (
            lambda i: services.record(
                served, [requests[i % n]], ranked[i % n], [f"{i}-{time.perf_counter_ns()}"], 1.0,
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
            lambda i: BatchRequest.model_validate_json(bodies["api_batch"][i % m]), BATCH_BLOCK
        ),
        "frame_batch": (
            lambda i: _frame(requests[(i % m) * BATCH_SIZE : (i % m + 1) * BATCH_SIZE]),
            BATCH_BLOCK,
        ),
        "rank_batch": (lambda i: served.rank(batches[i % m], 5), BATCH_BLOCK),
        "rank_batch_pool": (  # the same as the route makes it: in the thread pool
            lambda i: run_in_threadpool(served.rank, batches[i % m], 5), BATCH_BLOCK
        ),
        "batch_predict_proba": (lambda i: pipeline.predict_proba(batches[i % m]), BATCH_BLOCK),
        "respond_batch": (lambda i: respond_batch(i % m), BATCH_BLOCK),
        "record_batch": (lambda i: record_batch(i % m), BATCH_BLOCK),
        "pyfunc_batch": (lambda i: pyfunc_model.predict(batches[i % m]), BATCH_BLOCK),
        "write_log": (write_log, BATCH_BLOCK),
    }  # fmt: skip

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


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(tmp: Path) -> dict[str, str]:
    """The environment of every child: this run's stores only, nothing from the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAKUTEN_", "MLFLOW_"))}
    (tmp / "tmp").mkdir(exist_ok=True)
    env.update(
        RAKUTEN_MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        RAKUTEN_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        RAKUTEN_VAR_DIR=str(tmp / "var"),
        RAKUTEN_API_BATCH_LIMIT="1000",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
        TMPDIR=str(tmp / "tmp"),  # MLflow copies the model there; removed with the run
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # its `uvicorn`
    )
    return env


def run_worker(kind: str, tmp: Path, rows: int) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (cwd = tmp: no .env, MLflow's files stay in tmp)."""
    out, log = tmp / f"{kind}.json", tmp / f"{kind}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    command += ["--tmp", str(tmp), "--rows", str(rows)]
    say(f"{kind} …")
    with log.open("w") as log_file:
        done = subprocess.run(
            command, cwd=tmp, env=child_env(tmp), stdout=log_file, stderr=subprocess.STDOUT,
            timeout=WORKER_TIMEOUT_S, check=False,
        )  # fmt: skip
    if done.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace")[-4_000:]
        raise SystemExit(f"worker {kind!r} failed (exit {done.returncode}):\n{tail}")
    return json.loads(out.read_text())


@dataclass
class Server:
    """A server under test: where it listens and which process does the serving."""

    name: str
    port: int
    group: subprocess.Popen[bytes]  # the process started (leader of its own process group)
    log: Path
    ready_path: str
    serving_pid: int = 0  # the uvicorn process (for MLflow, a child of the `mlflow` CLI)

    def tree(self) -> list[int]:
        return [self.group.pid, *descendants(self.group.pid)]


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@contextlib.contextmanager
def serve(
    name: str, command: list[str], tmp: Path, ready_path: str, **extra_env: str
) -> Iterator[Server]:
    """Start ``command`` in its own process group; stop the whole group on the way out."""
    log = tmp / f"{name}.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=tmp, env=child_env(tmp) | extra_env, stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    port = int(command[command.index("--port") + 1])
    server = Server(name, port, process, log, ready_path)
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(server: Server) -> float:
    """Block until the server answers 200 on its readiness path; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < START_TIMEOUT_S:
        if server.group.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-4_000:]}")
        try:
            url = f"http://127.0.0.1:{server.port}{server.ready_path}"
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.25)
    else:
        raise SystemExit(f"{server.name} not ready:\n{server.log.read_text()[-4_000:]}")
    serving = [server.group.pid, *descendants(server.group.pid)]
    server.serving_pid = next(p for p in reversed(serving) if "uvicorn" in cmdline(p))
    return time.monotonic() - start


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime, all threads


def memory_mib(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {}
    for key in ("VmRSS", "VmHWM"):
        values[key] = int(status.split(f"{key}:")[1].split()[0]) / 1024
    return values


# --- load generator ------------------------------------------------------------------------------


@dataclass
class Load:
    """Requests of one scenario against one server (slots merged)."""

    latencies: list[float] = field(default_factory=list)  # seconds, answered requests
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    server_ms: list[float] = field(default_factory=list)  # the API's own latency_ms
    elapsed: float = 0.0
    ok: int = 0
    items: int = 0  # products predicted (a batch counts its size)
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    micro: Counter[str] = field(default_factory=Counter)  # rakuten_api_microbatch_size deltas
    slot_rates: list[float] = field(default_factory=list)  # requests/s of each A-B-B-A slot

    def merge(self, other: Load) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.server_ms += other.server_ms
        self.elapsed += other.elapsed
        self.ok += other.ok
        self.items += other.items
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu
        self.micro.update(other.micro)
        self.slot_rates += other.slot_rates

    @property
    def micro_calls(self) -> float:
        """Model calls the API's micro-batcher made during the measured window."""
        return self.micro[f"{MICROBATCH}_count"]

    @property
    def micro_mean(self) -> float:
        """Mean products per model call during the measured window (nan if none)."""
        calls = self.micro_calls
        return self.micro[f"{MICROBATCH}_sum"] / calls if calls else float("nan")

    def micro_over(self, size: int) -> float:
        """Share of the window's model calls that held more than ``size`` products."""
        calls = self.micro_calls
        at_most = self.micro[f'{MICROBATCH}_bucket{{le="{float(size)}"}}']
        return 1 - at_most / calls if calls else float("nan")

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + sum(
            self.errors.values()
        )

    def pct_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    @property
    def item_rate(self) -> float:
        return self.items / self.elapsed if self.elapsed else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Target:
    """What to send to one server for one scenario."""

    server: Server
    method: str
    path: str
    bodies: list[bytes]
    items_per_request: int
    reads_latency: bool = False  # parse the API's latency_ms out of each answer
    micro_batches: bool = False  # scrape the API's micro-batch histogram around the run


SENT: Counter[str] = Counter()  # every product each server was asked to predict, warm-ups included


def generate(
    target: Target, concurrency: int, *, seconds: float | None = None, count: int | None = None
) -> Load:
    """Send requests from ``concurrency`` threads, each on its own keep-alive connection.

    Either for ``seconds`` (each thread sends until the deadline) or ``count`` requests in all.
    """
    server, bodies = target.server, target.bodies
    loads = [Load() for _ in range(concurrency)]
    last_done = [0.0] * concurrency
    window: dict[str, float] = {}
    remaining = [count or 0]
    lock = threading.Lock()

    micro_before: dict[str, float] = {}

    def open_window() -> None:  # run by the last thread to reach the barrier
        if target.micro_batches:  # scraped before the CPU reading: its cost is not counted
            micro_before.update(microbatch_metrics(server))
        window["cpu"] = cpu_seconds(server.serving_pid)
        window["start"] = time.perf_counter()
        window["deadline"] = window["start"] + (seconds or 0.0)

    barrier = threading.Barrier(concurrency, action=open_window)

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)

    def send(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
        conn.request(target.method, target.path, body, JSON if body else {})
        answer = conn.getresponse()
        return answer.status, answer.read()

    def worker(slot: int) -> None:
        load, conn = loads[slot], connect()
        k = slot
        try:
            for _ in range(WARMUP_PER_CONNECTION):
                send(conn, bodies[k % len(bodies)])
                k += concurrency
            barrier.wait(timeout=START_TIMEOUT_S)
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
            load.errors[f"warm-up: {type(exc).__name__}"] += 1
            barrier.abort()  # the others stop waiting; the run is reported as failed
            return
        cpu = time.thread_time()
        while True:
            if seconds is not None:
                if time.perf_counter() >= window["deadline"]:
                    break
            else:
                with lock:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
            body = bodies[k % len(bodies)]
            k += concurrency
            start = time.perf_counter()
            try:
                status, data = send(conn, body)
            except (OSError, http.client.HTTPException) as exc:
                load.errors[type(exc).__name__] += 1
                conn.close()
                conn = connect()
                continue
            done = time.perf_counter()
            last_done[slot] = done
            load.statuses[status] += 1
            if status == 200:
                load.latencies.append(done - start)
                load.ok += 1
                load.items += target.items_per_request
                if target.reads_latency:
                    load.server_ms.append(json.loads(data)["latency_ms"])
        load.client_cpu = time.thread_time() - cpu
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Load()
    for load in loads:
        total.merge(load)
    if "start" not in window:
        raise SystemExit(f"{server.name}: the load could not start: {dict(total.errors)}")
    SENT[server.name] += (
        total.items + concurrency * WARMUP_PER_CONNECTION * target.items_per_request
    )
    total.elapsed = max(last_done) - window["start"]
    total.server_cpu = cpu_seconds(server.serving_pid) - window["cpu"]
    if target.micro_batches:
        after = microbatch_metrics(server)
        total.micro = Counter({k: v - micro_before.get(k, 0.0) for k, v in after.items()})
    return total


def abba(
    targets: tuple[Target, Target],
    concurrency: int,
    *,
    between: Callable[[], object] | None = None,
    **budget: float,
) -> list[Load]:
    """Run the scenario on A, B, B, A, each slot with half the budget; merged per server.

    ``between`` runs after the first A, B: work timed apart (the in-process profile) is then
    centred on the same moment as the load.
    """
    halves = {key: value / 2 for key, value in budget.items()}
    if "count" in halves:
        halves["count"] = max(1, round(halves["count"]))
    merged = [Load(), Load()]
    for slot, index in enumerate((0, 1, 1, 0)):
        if slot == 2 and between is not None:
            between()
        load = generate(targets[index], concurrency, **halves)  # type: ignore[arg-type]
        load.slot_rates = [load.rate]
        say(
            f"  {targets[index].server.name:6} {targets[index].path:15} c{concurrency:<2} "
            f"p50 {load.pct_ms(50):7.2f} ms  {load.rate:7.1f} req/s"
        )
        merged[index].merge(load)
    return merged


# --- report --------------------------------------------------------------------------------------


def say(message: str) -> None:
    sys.stdout.write(f"[{datetime.now():%H:%M:%S}] {message}\n")
    sys.stdout.flush()


def check(ok: bool) -> str:
    return "✅" if ok else "❌"


def api_metrics(server: Server, *prefixes: str) -> dict[str, float]:
    """The API's own series whose names start with one of ``prefixes``, from ``/metrics``."""
    url = f"http://127.0.0.1:{server.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefixes):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def microbatch_metrics(server: Server) -> dict[str, float]:
    """The API's micro-batch size histogram (buckets, ``_sum``, ``_count``)."""
    return api_metrics(server, MICROBATCH)


def log_problems(log: Path) -> list[str]:
    """Lines of a server's log that report an exception or an error."""
    keys = ("Traceback", "ERROR", "Exception", "exception", "CRITICAL")
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if any(k in line for k in keys)
    ]


def report(r: dict[str, Any], args: argparse.Namespace, load_avg: float) -> str:
    prep, prof = r["prepare"], r["profile"]
    api1, mlf1 = r["c1"]
    api16, mlf16 = r["c16"]
    apib, mlfb = r["batch"]
    floor_api, floor_mlf = r["floor"]
    mem_api, mem_mlf, mem_mlf_tree = r["mem_api"], r["mem_mlflow"], r["mem_mlflow_tree"]
    p50_ok = api1.pct_ms(50) < GOALS["p50_ms"]
    ratio16 = api16.rate / mlf16.rate
    ratio_ok = ratio16 >= GOALS["throughput_ratio"]
    command = f".venv/bin/python bench/serving.py --rows {args.rows} --seconds {args.seconds:g}"
    if args.batches != DEFAULT_BATCHES:
        command += f" --batches {args.batches}"
    if args.write:
        command += f" --write {args.write}"

    def ms(value: float) -> str:
        return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else ""

    def slots(load: Load) -> str:  # each server's two A-B-B-A slots: how much the rate moved
        return " and ".join(f"{rate:,.0f}" for rate in load.slot_rates)

    def lat_rows(label: str, api: Load, mlf: Load, goal: dict[int, str] | None = None) -> list[str]:
        rows = []
        for q in (50, 95, 99):
            a, m = api.pct_ms(q), mlf.pct_ms(q)
            mark = f" {check(p50_ok)}" if goal and q in goal else ""
            bold = "**" if goal and q in goal else ""
            rows.append(
                f"| {bold}{label}, p{q} latency{bold} | {(goal or {}).get(q, '')} | "
                f"{ms(a)}{mark} | {ms(m)} | {ratio(a, m)} |"
            )
        return rows

    failures = {s: sum(r[k][i].failed for k in ("c1", "c16", "batch", "floor"))
                for i, s in enumerate(("api", "mlflow"))}  # fmt: skip
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} "
        f"cores (shared; load average {load_avg:.2f} at start), Python "
        f"{platform.python_version()}. Model: default `TrainConfig()` fitted on "
        f"{prep['train_rows']:,} rows of the built-in catalogue ({prep['vocabulary']:,} word "
        f"n-grams, {prep['classes']} classes, holdout weighted F1 {prep['weighted_f1']:.4f}), "
        f"registered as version {prep['version']} in a fresh SQLite MLflow store and served "
        "from it by both servers at once, one uvicorn worker each, no access log. Load from one "
        "Python process on 127.0.0.1 (`http.client` keep-alive connections, one per thread), "
        f"cycling through {SAMPLE_PRODUCTS} synthetic holdout products (title + HTML "
        "description, "
        f"{prep['mean_input_chars']:,.0f} characters on average); {WARMUP_REQUESTS} warm-up "
        f"requests per server, then each scenario on API, MLflow, MLflow, API ({args.seconds / 2:g}"
        f" s per slot, so {args.seconds:g} s per server; batches: {args.batches} requests per "
        "server).",
        "",
        "| measure | goal | API (`uvicorn api.main:create_app`) | `mlflow models serve` "
        "| API / MLflow |",
        "| --- | --- | --- | --- | --- |",
        *lat_rows("one product, concurrency 1", api1, mlf1, {50: f"< {GOALS['p50_ms']:g} ms"}),
        f"| one product, concurrency 1, throughput | | {api1.rate:,.0f} req/s | "
        f"{mlf1.rate:,.0f} req/s | {ratio(api1.rate, mlf1.rate)} |",
        *lat_rows("one product, concurrency 16", api16, mlf16),
        f"| **one product, concurrency 16, throughput** | ≥ {GOALS['throughput_ratio']:g}× "
        f"MLflow | {api16.rate:,.0f} req/s {check(ratio_ok)} (slots {slots(api16)}) | "
        f"{mlf16.rate:,.0f} req/s (slots {slots(mlf16)}) | **{ratio16:.2f}×** |",
        f"| server CPU per request, concurrency 16 (`/proc/<pid>/stat`) | | "
        f"{1000 * api16.server_cpu / api16.ok:.2f} ms | {1000 * mlf16.server_cpu / mlf16.ok:.2f} "
        f"ms | {ratio(api16.server_cpu / api16.ok, mlf16.server_cpu / mlf16.ok)} |",
        f"| one product, mean micro-batch: products per model call "
        f"(`{MICROBATCH}`), concurrency 1 / 16 | | {api1.micro_mean:.2f} / "
        f"{api16.micro_mean:.1f} | 1 / 1 (one `predict` per request) | |",
        f"| batch of {BATCH_SIZE}, concurrency 1, p50 latency | | {ms(apib.pct_ms(50))} | "
        f"{ms(mlfb.pct_ms(50))} | {ratio(apib.pct_ms(50), mlfb.pct_ms(50))} |",
        f"| batch of {BATCH_SIZE}, concurrency 1, p95 latency | | {ms(apib.pct_ms(95))} | "
        f"{ms(mlfb.pct_ms(95))} | {ratio(apib.pct_ms(95), mlfb.pct_ms(95))} |",
        f"| batch of {BATCH_SIZE}, throughput | | {apib.item_rate:,.0f} products/s | "
        f"{mlfb.item_rate:,.0f} products/s | {ratio(apib.item_rate, mlfb.item_rate)} |",
        f"| floor: trivial GET (`/ready`, `/ping`), concurrency 1, p50 | | "
        f"{ms(floor_api.pct_ms(50))} | {ms(floor_mlf.pct_ms(50))} | "
        f"{ratio(floor_api.pct_ms(50), floor_mlf.pct_ms(50))} |",
        f"| **memory of the serving process after the runs**, RSS (peak `VmHWM`) | reported | "
        f"{mem_api['VmRSS']:,.0f} MiB ({mem_api['VmHWM']:,.0f} MiB) ✅ | "
        f"{mem_mlf['VmRSS']:,.0f} MiB ({mem_mlf['VmHWM']:,.0f} MiB) | "
        f"{ratio(mem_api['VmRSS'], mem_mlf['VmRSS'])} |",
        f"| memory of the whole process tree, RSS | | {mem_api['VmRSS']:,.0f} MiB (one process)"
        f" | {mem_mlf_tree:,.0f} MiB (`mlflow` CLI + uvicorn) | "
        f"{ratio(mem_api['VmRSS'], mem_mlf_tree)} |",
        f"| failed requests (non-200 or connection errors), all scenarios | 0 | "
        f"{failures['api']} {check(failures['api'] == 0)} | {failures['mlflow']} | |",
        "| what one answer holds | | class, name, probability, top 5 with names and "
        "probabilities, model version, latency, request id; one inference-log row per product "
        "| class codes only | |",
        "",
    ]
    met = [f"p50 at concurrency 1 is {api1.pct_ms(50):.2f} ms (goal < {GOALS['p50_ms']:g} ms)",
           f"throughput at concurrency 16 is {ratio16:.2f}× MLflow's (goal ≥ "
           f"{GOALS['throughput_ratio']:g}×)"]  # fmt: skip
    oks = [p50_ok, ratio_ok]
    if all(oks):
        lines.append(f"**Goals met:** {met[0]}; {met[1]}; memory reported.")
    else:
        missed = "; ".join(m for m, ok in zip(met, oks, strict=True) if not ok)
        kept = "; ".join(m for m, ok in zip(met, oks, strict=True) if ok)
        lines.append(f"**Goal missed: {missed}.**" + (f" Met: {kept}." if kept else ""))
    lines.append("")

    # --- latency breakdown
    # Measured during the load itself (same moment, same requests) ...
    api_client, mlf_client = api1.pct_ms(50) * 1000, mlf1.pct_ms(50) * 1000  # µs
    handler_us = statistics.median(api1.server_ms) * 1000
    handler16_us = statistics.median(api16.server_ms) * 1000
    api_cpu1, mlf_cpu1 = 1e6 * api1.server_cpu / api1.ok, 1e6 * mlf1.server_cpu / mlf1.ok
    client_api, client_mlf = 1e6 * api1.client_cpu / api1.ok, 1e6 * mlf1.client_cpu / mlf1.ok
    b1, b16 = api1.micro_mean, api16.micro_mean
    # ... and in-process, in the profile worker (its own moment: used for shares within the app).
    model_us = prof["batched"]  # what the handler awaits (and times as latency_ms): a batch of one
    ranking = prof["rank_fixed"]  # rank with the probabilities known: argsort, codes, names
    app_parts = prof["parse_request"] + prof["respond"] + prof["record"]
    api_framework = prof["api_asgi"] - model_us - app_parts
    mlf_app_rest = prof["mlflow_asgi"] - prof["pyfunc_predict"]
    arithmetic = prof["clean_only"] + prof["tokenize"] + prof["scores"]
    union = prof["features"] - prof["vectorizer"]
    writer_row = prof["write_log"] / LOG_BATCH  # µs per inference-log row, in the writer thread
    # One model call on N products ≈ fixed + per_product × N (least squares over 1 to 16).
    sizes = [size for size in CALL_SIZES if size <= 16]
    calls = [prof[f"call_{size}"] for size in sizes]
    mean_size, mean_call = statistics.fmean(sizes), statistics.fmean(calls)
    per_product = sum((x - mean_size) * (y - mean_call) for x, y in zip(sizes, calls, strict=True))
    per_product /= sum((x - mean_size) ** 2 for x in sizes)
    fixed_call = mean_call - per_product * mean_size
    # A request's share of a model call of b16 products, relative to a lone call (in-process
    # curve), applied to the lone call as the API timed it during the load (the same moment).
    relative16 = (fixed_call / b16 + per_product) / prof["call_1"]
    model16_us = relative16 * handler_us
    cpu16_api = 1000 * api16.server_cpu / api16.ok
    cpu16_mlf = 1000 * mlf16.server_cpu / mlf16.ok
    rest16 = cpu16_api - model16_us / 1000  # ms of CPU per request besides the model, at c16
    budget = cpu16_mlf / GOALS["throughput_ratio"]  # ms of CPU per request that would meet it
    batch_parts = ("parse_batch", "frame_batch", "rank_batch_pool", "respond_batch", "record_batch")
    batch_rest = prof["api_asgi_batch"] - sum(prof[k] for k in batch_parts)

    def us(value: float) -> str:
        return f"{value / 1000:.2f} ms" if abs(value) >= 1000 else f"{value:.0f} µs"

    def share(value: float, whole: float) -> str:
        return f"{100 * value / whole:.0f} %"

    def row(label: str, wholes: tuple[float, float], api: float | None, mlf: float | None) -> str:
        cells = [
            f"{us(v)} ({share(v, w)})" if v is not None else ""
            for v, w in zip((api, mlf), wholes, strict=True)
        ]
        return f"| {label} | {cells[0]} | {cells[1]} |"

    def load_row(label: str, api: float | None, mlf: float | None = None) -> str:
        return row(label, (api_client, mlf_client), api, mlf)

    def app_row(label: str, api: float | None, mlf: float | None = None) -> str:
        return row(label, (prof["api_asgi"], prof["mlflow_asgi"]), api, mlf)

    lines += [
        "Where one prediction's time goes at concurrency 1, measured during the load itself "
        "(shares of each server's client-observed p50; CPU times are means over the run, from "
        "`/proc/<pid>/stat` and the client threads' `thread_time`; a server's work goes on "
        "after its answer is sent — metrics, the inference-log writer — while the client reads "
        "it, so the parts can add up to more than the latency):",
        "",
        "| part | API | `mlflow models serve` |",
        "| --- | --- | --- |",
        load_row("**client-observed p50**", api_client, mlf_client),
        load_row("server process CPU per request (all its threads)", api_cpu1, mlf_cpu1),
        load_row("… the model call, as the API times it (`latency_ms`, median: queued to the "
                 "micro-batcher, one loop turn, the batch's `DataFrame` + `ServedModel.rank`; "
                 f"{b1:.2f} products per call on average)", handler_us, None),
        load_row("… the rest of the server: uvicorn's HTTP, FastAPI, JSON, middlewares, "
                 "metrics, the inference-log writer thread (CPU mean − `latency_ms` median)",
                 api_cpu1 - handler_us, None),
        load_row("… for comparison: the same at concurrency 16 (`latency_ms`, median: queued "
                 "behind the model call in progress and the event loop's work on the other "
                 f"requests, then its own call, {b16:.1f} products per call on average)",
                 handler16_us, None),
        load_row("load generator CPU per request (`http.client`)", client_api, client_mlf),
        load_row("for comparison: the trivial GET, end to end (p50)", floor_api.pct_ms(50) * 1000,
                 floor_mlf.pct_ms(50) * 1000),
        "",
        "Inside each server, timed in-process in a separate worker (each ASGI app called "
        "without socket or uvicorn, under the API's lifespan so that its micro-batcher runs, "
        "and the parts inside it), run between the two halves of the concurrency-1 load with "
        f"no load applied: {PROFILE_ROUNDS} rounds in which every probe takes its turn with "
        f"{BLOCK} calls in a row, medians, shares of that server's whole in-process app. One "
        "request at a time, so every API model call here is a batch of one. Medians of parts "
        "do not add up exactly; \"rest\" lines are differences:",
        "",
        "| part | API | `mlflow models serve` |",
        "| --- | --- | --- |",
        app_row("**whole ASGI app, in-process**", prof["api_asgi"], prof["mlflow_asgi"]),
        app_row("… **model call**: `await services.batcher.rank(…)`, a batch of one (API) / "
                "`PyFuncModel.predict`, signature enforcement included (MLflow)", model_us,
                prof["pyfunc_predict"]),
        app_row("… … the micro-batcher around the model: queue, one loop turn, the batch's "
                "`DataFrame`, the future (the same call with a stub model that answers at once)",
                prof["batched_stub"]),
        app_row("… … … of which building the one-row `DataFrame` (as `MicroBatcher._compute` "
                "does)", prof["frame"]),
        app_row("… … `ServedModel.rank` (no column copy: the frame's columns already are "
                "`INPUT_COLUMNS`)", prof["rank"]),
        app_row("… … … `pipeline.predict_proba`", prof["predict_proba"]),
        app_row("… … … … text step (`TextColumns`: pandas `fillna`/`astype` + cleaning)",
                prof["text_step"]),
        app_row("… … … … … of which the cleaning itself (`combine_texts`)", prof["clean_only"]),
        app_row("… … … … features (`FeatureUnion`: joblib dispatch + sparse `hstack`)",
                prof["features"]),
        app_row("… … … … … of which the word `TfidfVectorizer.transform`", prof["vectorizer"]),
        app_row("… … … … … … of which tokenizing (its analyzer, 1- and 2-grams)",
                prof["tokenize"]),
        app_row("… … … … classifier (`LogisticRegression.predict_proba`)", prof["classifier"]),
        app_row("… … … … … of which the arithmetic (sparse row × coefficients, softmax, "
                "numpy)", prof["scores"]),
        app_row("… … … top-5 ranking and names (`rank` with the probabilities already known: "
                "`argsort`, codes, names)", ranking),
        app_row("… parse and validate the request (`PredictRequest`)", prof["parse_request"]),
        app_row("… build, validate and serialise the answer (`PredictResponse`)",
                prof["respond"]),
        app_row("… count and queue the inference-log row (`Services.record`)", prof["record"]),
        app_row("… rest: FastAPI/Starlette routing, body reading, middlewares (API) / JSON → "
                "pandas, thread hop, timeout middleware, JSON answer (MLflow)", api_framework,
                mlf_app_rest),
        "",
        "One model call on several products, as the micro-batcher makes it (the batch's "
        "`DataFrame` + `ServedModel.rank`, top 5), in-process in the same rounds "
        f"({CALL_BLOCK} calls in a row, medians):",
        "",
        "| products per model call | " + " | ".join(f"{size}" for size in CALL_SIZES) + " |",
        "| --- |" + " --- |" * len(CALL_SIZES),
        "| one call | " + " | ".join(us(prof[f"call_{size}"]) for size in CALL_SIZES) + " |",
        "| per product | "
        + " | ".join(us(prof[f"call_{size}"] / size) for size in CALL_SIZES)
        + " |",
        "",
    ]  # fmt: skip
    overhead = prof["predict_proba"] - arithmetic
    lines += [
        f"**What dominates the remaining latency (concurrency 1):** the model call. During the "
        f"load the API timed it at {us(handler_us)} (`latency_ms`, median; {b1:.2f} products "
        f"per call on average, so nearly always alone) of its {us(api_client)} p50 "
        f"({share(handler_us, api_client)}); the rest of the server's work (uvicorn, FastAPI, "
        f"JSON, metrics, the log writer) took {us(api_cpu1 - handler_us)} of CPU per request, "
        f"the client {us(client_api)}; a trivial GET costs {ms(floor_api.pct_ms(50))} end to "
        f"end. In-process a lone request's model call takes {us(model_us)}, "
        f"{share(model_us, prof['api_asgi'])} of the API app: the micro-batcher around it "
        f"{us(prof['batched_stub'])} (its queue, one loop turn and future, and the one-row "
        f"`DataFrame`, {us(prof['frame'])}), then `ServedModel.rank` {us(prof['rank'])}: "
        f"`predict_proba` {us(prof['predict_proba'])} and the top-5 ranking and names "
        f"{us(ranking)}. Within `predict_proba` it is not the arithmetic: cleaning, tokenizing "
        f"and one sparse row times the coefficients take {us(arithmetic)}, so "
        f"{100 * overhead / prof['predict_proba']:.0f} % of it is scikit-learn's and pandas' "
        "per-call machinery on a one-row input: input validation in every step (`check_array`, "
        "the dataframe-library checks, `set_output` wrappers), the `FeatureUnion`'s joblib "
        f"dispatch and `hstack` ({us(union)}), the TF-IDF step's validation and normalisation, "
        "pandas' `fillna`/`astype` in the text step. FastAPI's share is small: request, answer "
        f"and inference-log row {us(app_parts)}, routing and middlewares about "
        f"{us(api_framework)}.",
        "",
        (
            f"**Why the throughput goal is met: micro-batching.** One uvicorn worker is bound "
            f"by one core (the GIL), so at concurrency 16 throughput follows CPU per request: "
            f"the API spends {cpu16_api:.2f} ms against MLflow's {cpu16_mlf:.2f} ms. MLflow "
            "calls its model once per request; the API's requests that arrive while a model "
            f"call runs queue up and share the next one: {b16:.1f} products per model call on "
            f"average at concurrency 16 ({100 * api16.micro_over(8):.0f} % of the calls held "
            f"more than 8), against {b1:.2f} at concurrency 1 (`rakuten_api_microbatch_size`). "
            "A model call is mostly per-call machinery, paid once per batch: "
            f"{us(prof['call_1'])} for one product, {us(prof['call_16'])} for 16 "
            f"({us(prof['call_16'] / 16)} per product); fitted over 1 to 16 products, "
            f"{us(fixed_call)} per call + {us(per_product)} per product, so at {b16:.1f} "
            f"products per call a request's share is {100 * relative16:.0f} % of a lone call: "
            f"about {us(model16_us)} of the {us(handler_us)} the API timed for one at "
            "concurrency 1. What dominates at concurrency 16 is now the work every request "
            f"pays for itself, not the shared model call: of the {cpu16_api:.2f} ms of CPU per "
            f"request about {us(model16_us)} is the model and {rest16:.2f} ms the rest — "
            "uvicorn's HTTP, FastAPI's routing, validation and serialisation, middlewares, "
            f"metrics and the inference-log writer (about {us(writer_row)} per row); at "
            f"concurrency 1 that rest came to {us(api_cpu1 - handler_us)} per request. Latency "
            "gains as well: a "
            "request waits behind the model call in progress and the loop's work on the other "
            f"requests, then for its own call (`latency_ms` median {us(handler16_us)}), and the "
            f"p50 is {ms(api16.pct_ms(50))} against MLflow's {ms(mlf16.pct_ms(50))}."
            if ratio_ok
            else f"**Why the throughput goal is missed:** one uvicorn worker is bound by one "
            f"core (the GIL), so at concurrency 16 throughput follows CPU per request: the API "
            f"spends {cpu16_api:.2f} ms against MLflow's {cpu16_mlf:.2f} ms; "
            f"{GOALS['throughput_ratio']:g}× MLflow's throughput would need at most "
            f"{budget:.2f} ms. Micro-batching shared each model call among {b16:.1f} products "
            f"on average at concurrency 16 ({b1:.2f} at concurrency 1; "
            "`rakuten_api_microbatch_size`); one call costs about "
            f"{us(fixed_call)} + {us(per_product)} per product (fitted over 1 to 16 products; "
            f"{us(prof['call_1'])} for one alone), so a request's share is "
            f"{100 * relative16:.0f} % of a lone call, about {us(model16_us)} of the "
            f"{us(handler_us)} the API timed for one at concurrency 1, which "
            + (
                "alone is over that budget: it would take larger batches (a batch is bounded "
                "by the concurrency) or a cheaper model call."
                if model16_us / 1000 >= budget
                else f"leaves {budget - model16_us / 1000:.2f} ms for the rest — uvicorn's "
                f"HTTP, FastAPI, JSON, metrics, the inference-log writer — against about "
                f"{rest16:.2f} ms spent on it now (about {us(writer_row)} per row in the log "
                "writer)."
            )
        ),
        "",
        f"**Batches of {BATCH_SIZE}:** in-process the API's batch takes "
        f"{us(prof['api_asgi_batch'])} against MLflow's {us(prof['mlflow_asgi_batch'])}: "
        f"parsing and validating the {BATCH_SIZE}-product `BatchRequest` "
        f"{us(prof['parse_batch'])}, its `DataFrame` {us(prof['frame_batch'])}, ranking "
        f"in the thread pool (the route does so above {prof['inline_batch']:.0f} products) "
        f"{us(prof['rank_batch_pool'])} (on the event loop's own thread "
        f"{us(prof['rank_batch'])}: `predict_proba` {us(prof['batch_predict_proba'])}, "
        f"MLflow's `predict` {us(prof['pyfunc_batch'])}), {BATCH_SIZE} top-5 answers as plain "
        f"dicts in one `JSONResponse` {us(prof['respond_batch'])}, {BATCH_SIZE} "
        f"inference-log rows {us(prof['record_batch'])}, and the rest — FastAPI's routing, "
        f"body reading and middlewares — {us(batch_rest)}; MLflow answers {BATCH_SIZE} codes. "
        f"Then the log is written off the request path, but in the same process: one "
        f"{LOG_BATCH}-row insert takes {us(prof['write_log'])} "
        f"({writer_row:.0f} µs per prediction, mostly Python that holds the GIL), so at "
        f"{apib.item_rate:,.0f} products/s the writer thread needs about "
        f"{apib.item_rate * writer_row / 1e4:.0f} % of a core and competes with the event loop "
        "for the GIL while it runs"
        + (
            ", the likely cause of the API's wide p95 on batches."
            if apib.pct_ms(95) > 1.5 * apib.pct_ms(50)
            else "."
        ),
        "",
        f"Checks: both servers predicted the same class for {r['agree']}. The API's inference "
        f"log wrote {r['log_written']:,.0f} rows for the {r['sent_api']:,} products it was "
        f"sent, warm-ups included ({r['log_failed']:,.0f} write failures), and its own request "
        f"counter shows {r['api_non_2xx']:,.0f} answers other than 2xx; its log has "
        f"{r['api_problems']} error or exception lines, MLflow's {r['mlflow_problems']}. Its "
        f"micro-batch histogram counted {api1.micro[f'{MICROBATCH}_sum']:,.0f} and "
        f"{api16.micro[f'{MICROBATCH}_sum']:,.0f} products in {api1.micro_calls:,.0f} and "
        f"{api16.micro_calls:,.0f} model calls during the measured concurrency-1 and -16 runs, "
        f"for {api1.ok:,} and {api16.ok:,} answered requests. "
        f"Start-up to ready, both at once: API {r['ready_api']:.1f} s, MLflow "
        f"{r['ready_mlflow']:.1f} s. Memory: the API held {r['mem_api_start']['VmRSS']:,.0f} MiB "
        "when ready; MLflow's `mlflow` CLI process stays alive beside its server and holds "
        f"{mem_mlf_tree - mem_mlf['VmRSS']:,.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


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


def post_json(server: Server, path: str, body: bytes) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", data=body, headers=JSON, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"prepare": run_worker("prepare", tmp, args.rows)}
    products = json.loads((tmp / "products.json").read_text())
    bodies = encode_bodies(products)
    api_port, mlflow_port = free_port(), free_port()
    api_command = [
        sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
        "127.0.0.1", "--port", str(api_port), "--workers", "1", "--no-access-log",
    ]  # fmt: skip
    mlflow_command = [
        str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", MODEL_URI,
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(mlflow_port),
        "--workers", "1",
    ]  # fmt: skip
    say("starting both servers …")
    with contextlib.ExitStack() as stack:
        # cwd is tmp (no .env), so the repository goes on the path as `make api`'s cwd would.
        api = stack.enter_context(serve("api", api_command, tmp, "/ready", PYTHONPATH=str(ROOT)))
        # MLflow's command line has no access-log flag; its uvicorn reads this (click env var).
        mlflow = stack.enter_context(
            serve("mlflow", mlflow_command, tmp, "/ping", UVICORN_ACCESS_LOG="false")
        )
        results["ready_api"], results["ready_mlflow"] = wait_ready(api), wait_ready(mlflow)
        results["mem_api_start"] = memory_mib(api.serving_pid)

        # Same answers? One product per request, then one batch, on both.
        agree = 0
        for body, mlflow_body in zip(bodies["api"][:20], bodies["mlflow"][:20], strict=True):
            code = post_json(api, "/predict", body)["code"]
            agree += code == post_json(mlflow, "/invocations", mlflow_body)["predictions"][0]
        answered = post_json(api, "/predict/batch", bodies["api_batch"][0])["predictions"]
        batch_api = [prediction["code"] for prediction in answered]
        batch_mlflow = post_json(mlflow, "/invocations", bodies["mlflow_batch"][0])["predictions"]
        agree_batch = sum(a == b for a, b in zip(batch_api, batch_mlflow, strict=True))
        results["agree"] = f"{agree}/20 products and {agree_batch}/{BATCH_SIZE} in the batch"
        SENT["api"] += 20 + BATCH_SIZE

        single = (Target(api, "POST", "/predict", bodies["api"], 1, reads_latency=True,
                         micro_batches=True),
                  Target(mlflow, "POST", "/invocations", bodies["mlflow"], 1))  # fmt: skip
        batch = (
            Target(api, "POST", "/predict/batch", bodies["api_batch"], BATCH_SIZE, True),
            Target(mlflow, "POST", "/invocations", bodies["mlflow_batch"], BATCH_SIZE),
        )
        floor = (Target(api, "GET", "/ready", [b""], 0), Target(mlflow, "GET", "/ping", [b""], 0))
        say("warm-up …")
        for target in single:
            generate(target, 1, count=WARMUP_REQUESTS)
        for target in batch:
            generate(target, 1, count=5)
        say(f"concurrency 1, {args.seconds:g} s per server …")
        # The in-process profile runs between the two halves, while no load is applied.
        results["c1"] = abba(
            single, 1, seconds=args.seconds,
            between=lambda: results.update(profile=run_worker("profile", tmp, args.rows)),
        )  # fmt: skip
        say(f"concurrency 16, {args.seconds:g} s per server …")
        results["c16"] = abba(single, 16, seconds=args.seconds)
        say(f"batches of {BATCH_SIZE}, {args.batches} per server …")
        results["batch"] = abba(batch, 1, count=args.batches)
        say("floor (trivial GET) …")
        results["floor"] = abba(floor, 1, count=2_000)
        for key in ("c1", "c16", "batch", "floor"):
            for name, load in zip(("API", "MLflow"), results[key], strict=True):
                say(
                    f"  {key:5} {name:6} p50 {load.pct_ms(50):8.2f} ms  p95 "
                    f"{load.pct_ms(95):8.2f} ms  p99 {load.pct_ms(99):8.2f} ms  "
                    f"{load.rate:8.1f} req/s  failed {load.failed} {dict(load.statuses)} "
                    f"{dict(load.errors)}"
                    + (f"  micro-batch mean {load.micro_mean:.2f}" if load.micro_calls else "")
                )

        results["mem_api"] = memory_mib(api.serving_pid)
        results["mem_mlflow"] = memory_mib(mlflow.serving_pid)
        results["mem_mlflow_tree"] = sum(memory_mib(pid)["VmRSS"] for pid in mlflow.tree())
        time.sleep(2.0)  # the inference log flushes every 0.5 s
        metrics = api_metrics(api, "rakuten_api_inference_log", "rakuten_api_requests")
        results["log_written"] = metrics.get("rakuten_api_inference_log_rows_written_total", 0.0)
        results["log_failed"] = metrics.get("rakuten_api_inference_log_write_failures_total", 0.0)
        results["sent_api"] = SENT["api"]
        results["api_non_2xx"] = sum(
            value for name, value in metrics.items()
            if name.startswith("rakuten_api_requests_total") and 'status="2' not in name
        )  # fmt: skip
    results["api_problems"] = len(log_problems(tmp / "api.log"))
    results["mlflow_problems"] = len(log_problems(tmp / "mlflow.log"))
    for name in ("api", "mlflow"):
        for line in log_problems(tmp / f"{name}.log")[:10]:
            say(f"  {name} log: {line[:200]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=84_916)
    parser.add_argument("--seconds", type=float, default=10.0, help="per server and scenario")
    parser.add_argument(
        "--batches", type=int, default=DEFAULT_BATCHES, help="batch requests per server"
    )
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = WORKERS[args.worker](args.tmp, args.rows)
        (args.tmp / f"{args.worker}.json").write_text(json.dumps(result, default=str))
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers are stopped too
    load_avg = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="bench_serving_") as name:
            results = run(args, Path(name))
    except KeyboardInterrupt:  # the servers and the directory are gone by now
        raise SystemExit("interrupted") from None
    section = report(results, args, load_avg)
    sys.stdout.write(section + "\n")
    if args.write:
        write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
