"""The serving process's model: call time (compiled vs pipeline) and resident memory.

    .venv/bin/python bench/serving_model.py --rows 30000

Fits the default preset on the built-in catalogue, registers it as champion in a fresh SQLite
MLflow store, then measures (1) in this process, one model call on 1, 16 and 100 products through
``pipeline.predict_proba`` (a frame, as the API called it before) and through the compiled model
(``ServedModel.rank_texts``, top 5 included), medians; (2) the resident memory of a real API
process (uvicorn, one worker) after ``/ready`` and 50 predictions, once following the store
through an MLflow tracking server (HTTP: the API imports neither mlflow nor scikit-learn) and
once reading the SQLite store directly (the ``mlflow`` package in the process); and (3) the
memory of a process that only imports ``api.main``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    BENCH_ACTOR,
    isolated_env,
    memory_mib,
    process_group,
    say,
    wait_http,
)
from tests.ports import free_port  # noqa: E402

SIZES = (1, 16, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000, help="catalogue rows")
    parser.add_argument("--repeat", type=int, default=30, help="calls per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serving-model-") as name:
        tmp = Path(name)
        os.chdir(tmp)  # MLflow puts a local store's artifacts under the working directory
        products = register_champion(tmp, args.rows)
        calls = time_calls(tmp, products, args.repeat)
        imports = import_only_rss()
        http = serve_and_measure(tmp, products, through_server=True)
        local = serve_and_measure(tmp, products, through_server=False)
    report(args, calls, imports, http, local)


def register_champion(tmp: Path, rows: int) -> list[dict[str, str]]:
    """Fit, log and register the default preset; 500 holdout products to send."""
    from core.adapters.model_store import MlflowModelStore
    from core.data.queries import TrainingData
    from core.data.store import catalogue_digest
    from core.data.synthetic import generate_catalogue
    from core.evaluate import evaluate
    from core.registry import CHAMPION
    from core.train import TrainConfig, fit

    catalogue = generate_catalogue(rows, seed=42)
    holdout = catalogue.groupby("prdtypecode", group_keys=False).sample(frac=0.15, random_state=0)
    train = catalogue.drop(holdout.index)
    say(f"fitting the default preset on {len(train):,} products")
    result = fit(TrainConfig(), train)
    digest = catalogue_digest(train.productid)
    data = TrainingData(train, holdout, len(catalogue), len(train), digest)
    store = MlflowModelStore(f"sqlite:///{tmp / 'mlflow.db'}")
    logged = store.log_run(
        TrainConfig(),
        result,
        evaluate(result.pipeline, holdout),
        data,
        run_name="bench",
        actor=BENCH_ACTOR,
    )
    store.set_alias(CHAMPION, store.register(logged))
    sample = holdout.sample(min(500, len(holdout)), random_state=1)
    return [
        {"designation": d, "description": e}
        for d, e in zip(sample.designation, sample.description.fillna(""), strict=True)
    ]


def time_calls(tmp: Path, products: list[dict[str, str]], repeat: int) -> dict[str, Any]:
    """Median µs of one model call on N products: the pipeline's, the compiled model's."""
    import mlflow.sklearn
    import pandas as pd

    from api.model import ServedModel
    from core.adapters.model_store import MlflowModelStore
    from core.serving.compile import compile_pipeline, verify

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    pipeline = mlflow.sklearn.load_model(MlflowModelStore(uri).champion_ref().source)
    start = time.perf_counter()
    compiled = compile_pipeline(pipeline)
    worst = verify(compiled, pipeline)
    compile_s = time.perf_counter() - start
    served = ServedModel.of(compiled, version=1, run_id="")
    result: dict[str, Any] = {"compile_s": compile_s, "worst": worst}
    for size in SIZES:
        chunks = [products[i : i + size] for i in range(0, len(products) - size + 1, size)]
        titles = [[p["designation"] for p in c] for c in chunks]
        texts = [[p["description"] for p in c] for c in chunks]
        frames = [pd.DataFrame(c)[["designation", "description"]] for c in chunks]
        n = len(chunks)
        result[f"pipeline_{size}"] = median_us(
            lambda i, f=frames, n=n: pipeline.predict_proba(f[i % n]), repeat
        )
        result[f"compiled_{size}"] = median_us(
            lambda i, t=titles, d=texts, n=n: served.rank_texts(t[i % n], d[i % n], 5), repeat
        )
    return result


def median_us(call: Any, repeat: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def import_only_rss() -> float:
    """MiB resident in a fresh process after ``import api.main``."""
    code = (
        "import api.main, pathlib; s = pathlib.Path('/proc/self/status').read_text();"
        "print(int(s.split('VmRSS:')[1].split()[0]) / 1024)"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def serve_and_measure(
    tmp: Path, products: list[dict[str, str]], *, through_server: bool
) -> dict[str, Any]:
    """Start the API (and an MLflow server for it, if asked); its memory after 50 answers."""
    root = Path(__file__).resolve().parents[1]
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    tag = "http" if through_server else "sqlite"
    env = isolated_env(
        "RAKUTEN_",
        "MLFLOW_",
        RAKUTEN_DATABASE_URL=f"sqlite:///{tmp / f'api-{tag}.db'}",
        RAKUTEN_VAR_DIR=str(tmp / f"var-{tag}"),
        MLFLOW_DISABLE_TELEMETRY="true",
        PYTHONPATH=str(root),
    )
    with contextlib.ExitStack() as stack:
        if through_server:
            port = free_port()
            command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store]
            command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            log = tmp / "mlflow-server.log"
            server = stack.enter_context(process_group(command, cwd=tmp, env=env, log=log))
            wait_http("mlflow server", f"http://127.0.0.1:{port}/health", server, log, 240)
            env["RAKUTEN_MLFLOW_TRACKING_URI"] = f"http://127.0.0.1:{port}"
        else:
            env["RAKUTEN_MLFLOW_TRACKING_URI"] = store
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        log = tmp / f"api-{tag}.log"
        start = time.monotonic()
        api = stack.enter_context(process_group(command, cwd=root, env=env, log=log))
        wait_http("API", f"http://127.0.0.1:{port}/ready", api, log, 240)
        ready_s = time.monotonic() - start
        ready = memory_mib(api.pid)
        for product in products[:50]:
            post(f"http://127.0.0.1:{port}/predict", product)
        after = memory_mib(api.pid)
        answer = post(f"http://127.0.0.1:{port}/predict", products[0])
    say(f"API through {tag}: {after['VmRSS']:.0f} MiB after 50 answers ({answer['category']})")
    return {"ready_s": ready_s, "ready": ready, "after": after, "log": log.read_text()[-600:]}


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.loads(answer.read()))


def report(args: Any, calls: dict[str, Any], imports: float, http: Any, local: Any) -> None:
    load = os.getloadavg()
    lines = [
        f"Command: `.venv/bin/python bench/serving_model.py --rows {args.rows}` "
        f"(load average {load[0]:.2f} / {load[1]:.2f} at the end)",
        "",
        f"| model call, median of {args.repeat} | `pipeline.predict_proba` (frame) "
        "| compiled `rank_texts` (top 5) | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for size in SIZES:
        a, b = calls[f"pipeline_{size}"], calls[f"compiled_{size}"]
        lines.append(f"| {size} products | {a:,.0f} µs | {b:,.0f} µs | {a / b:.1f}× |")
    lines += [
        "",
        f"Compiling + verifying at load: {calls['compile_s']:.2f} s; largest probability "
        f"difference on the verification products {calls['worst']:.2g}.",
        "",
        "| serving process (uvicorn, 1 worker) | RSS at /ready | RSS after 50 answers (peak) "
        "| start to ready |",
        "| --- | --- | --- | --- |",
        f"| `import api.main` only | {imports:.0f} MiB | | |",
    ]
    for name, m in (("through an MLflow server (HTTP)", http), ("SQLite store direct", local)):
        lines.append(
            f"| {name} | {m['ready']['VmRSS']:.0f} MiB | {m['after']['VmRSS']:.0f} MiB "
            f"({m['after']['VmHWM']:.0f} MiB) | {m['ready_s']:.1f} s |"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
