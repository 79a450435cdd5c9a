"""The serving benchmark's latency breakdown: where one prediction's time goes, and why.

Numbers measured during the load (client latency, the API's ``latency_ms``, ``/proc`` CPU time)
next to the in-process profile of each server's app (``bench/serving_workers.py``).
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.serving_workers import (
    BATCH_SIZE,
    BLOCK,
    CALL_BLOCK,
    CALL_SIZES,
    LOG_BATCH,
    PROFILE_ROUNDS,
)


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if abs(value) >= 1000 else f"{value:.0f} µs"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else ""


def share(value: float, whole: float) -> str:
    return f"{100 * value / whole:.0f} %"


def breakdown(r: dict[str, Any], throughput_goal: float) -> list[str]:
    """Where a prediction's time goes, during the load and in-process, and what it explains."""
    prof = r["profile"]
    api1, mlf1 = r["c1"]
    api16, mlf16 = r["c16"]
    apib = r["batch"][0]
    floor_api, floor_mlf = r["floor"]
    ratio_ok = api16.rate / mlf16.rate >= throughput_goal
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
    budget = cpu16_mlf / throughput_goal  # ms of CPU per request that would meet it
    batch_parts = ("parse_batch", "frame_batch", "rank_batch_pool", "respond_batch", "record_batch")
    batch_rest = prof["api_asgi_batch"] - sum(prof[k] for k in batch_parts)

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

    lines = [
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
        load_row(
            "… the model call, as the API times it (`latency_ms`, median: queued to the "
            "micro-batcher, one loop turn, the batch's `DataFrame` + `ServedModel.rank`; "
            f"{b1:.2f} products per call on average)",
            handler_us,
            None,
        ),
        load_row(
            "… the rest of the server: uvicorn's HTTP, FastAPI, JSON, middlewares, "
            "metrics, the inference-log writer thread (CPU mean − `latency_ms` median)",
            api_cpu1 - handler_us,
            None,
        ),
        load_row(
            "… for comparison: the same at concurrency 16 (`latency_ms`, median: queued "
            "behind the model call in progress and the event loop's work on the other "
            f"requests, then its own call, {b16:.1f} products per call on average)",
            handler16_us,
            None,
        ),
        load_row("load generator CPU per request (`http.client`)", client_api, client_mlf),
        load_row(
            "for comparison: the trivial GET, end to end (p50)",
            floor_api.pct_ms(50) * 1000,
            floor_mlf.pct_ms(50) * 1000,
        ),
        "",
        "Inside each server, timed in-process in a separate worker (each ASGI app called "
        "without socket or uvicorn, under the API's lifespan so that its micro-batcher runs, "
        "and the parts inside it), run between the two halves of the concurrency-1 load with "
        f"no load applied: {PROFILE_ROUNDS} rounds in which every probe takes its turn with "
        f"{BLOCK} calls in a row, medians, shares of that server's whole in-process app. One "
        "request at a time, so every API model call here is a batch of one. Medians of parts "
        'do not add up exactly; "rest" lines are differences:',
        "",
        "| part | API | `mlflow models serve` |",
        "| --- | --- | --- |",
        app_row("**whole ASGI app, in-process**", prof["api_asgi"], prof["mlflow_asgi"]),
        app_row(
            "… **model call**: `await services.batcher.rank(…)`, a batch of one (API) / "
            "`PyFuncModel.predict`, signature enforcement included (MLflow)",
            model_us,
            prof["pyfunc_predict"],
        ),
        app_row(
            "… … the micro-batcher around the model: queue, one loop turn, the batch's "
            "`DataFrame`, the future (the same call with a stub model that answers at once)",
            prof["batched_stub"],
        ),
        app_row(
            "… … … of which building the one-row `DataFrame` (as `MicroBatcher._compute` does)",
            prof["frame"],
        ),
        app_row(
            "… … `ServedModel.rank` (no column copy: the frame's columns already are "
            "`INPUT_COLUMNS`)",
            prof["rank"],
        ),
        app_row("… … … `pipeline.predict_proba`", prof["predict_proba"]),
        app_row(
            "… … … … text step (`TextColumns`: pandas `fillna`/`astype` + cleaning)",
            prof["text_step"],
        ),
        app_row("… … … … … of which the cleaning itself (`combine_texts`)", prof["clean_only"]),
        app_row(
            "… … … … features (`FeatureUnion`: joblib dispatch + sparse `hstack`)", prof["features"]
        ),
        app_row("… … … … … of which the word `TfidfVectorizer.transform`", prof["vectorizer"]),
        app_row("… … … … … … of which tokenizing (its analyzer, 1- and 2-grams)", prof["tokenize"]),
        app_row("… … … … classifier (`LogisticRegression.predict_proba`)", prof["classifier"]),
        app_row(
            "… … … … … of which the arithmetic (sparse row × coefficients, softmax, numpy)",
            prof["scores"],
        ),
        app_row(
            "… … … top-5 ranking and names (`rank` with the probabilities already known: "
            "`argsort`, codes, names)",
            ranking,
        ),
        app_row("… parse and validate the request (`PredictRequest`)", prof["parse_request"]),
        app_row("… build, validate and serialise the answer (`PredictResponse`)", prof["respond"]),
        app_row("… count and queue the inference-log row (`Services.record`)", prof["record"]),
        app_row(
            "… rest: FastAPI/Starlette routing, body reading, middlewares (API) / JSON → "
            "pandas, thread hop, timeout middleware, JSON answer (MLflow)",
            api_framework,
            mlf_app_rest,
        ),
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
    ]
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
            f"{throughput_goal:g}× MLflow's throughput would need at most "
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
    ]
    return lines
