"""The serving benchmark's section of docs/BENCHMARKS.md: the scenarios' table, goals, checks."""

from __future__ import annotations

from typing import Any

from bench.markdown import check, run_line
from bench.serving_load import WRK_TIMEOUT, Load
from bench.serving_servers import MICROBATCH
from bench.serving_workers import BATCH_SIZE, SAMPLE_PRODUCTS

SECTION = "## Serving"
GOALS = {"p50_vs_mlflow": 0.35, "p50_vs_floor": 5.0, "c16_vs_mlflow": 8.0, "batch_vs_mlflow": 1.5}


HOW = (
    "How the API serves: `python -m api` starts `RAKUTEN_API_WORKERS` uvicorn workers on one "
    "socket (default: one per core the process may use), so the GIL of one process no longer "
    "caps throughput. Each worker is a whole API: it loads the champion, micro-batches the single "
    "predictions waiting at the same moment into one model call, and writes its own "
    "inference-log rows (spool files named by process id; SQLite in WAL mode with a busy timeout, "
    "and the writer retries). A `POST /model/reload` reaches one worker, which rewrites a signal "
    "file under `var/run/api` that every worker checks every 0.2 s, so all of them follow a "
    "promotion within about a second, not at their next poll. `/metrics` uses prometheus_client's "
    "multiprocess mode (a fresh folder under `var/run/api` at each start): whichever worker "
    "answers the scrape, counters and histograms add up every worker's, and gauges say how they "
    "combine (`livesum`, `livemax`, `livemin`, `livemostrecent`). The load generator is `wrk`, a "
    "C program on epoll, where the earlier Python client spent about 0.45 ms of CPU per request "
    "on the same two cores as the servers."
)


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else ""


def report(r: dict[str, Any], command: str, seconds: float, load_avg: float) -> str:
    """The "## Serving" section from the results of ``bench/serving.py``'s run."""
    names = [_label(name, workers, i) for i, (name, workers) in enumerate(r["servers"])]
    c1, c16, batch, floor = r["c1"], r["c16"], r["batch"], r["floor"]
    api_rss = max(r["mem"][0]["workers"])
    mlflow_rss = max(r["mem"][1]["workers"])
    failed = [
        sum(r[k][i].failed for k in ("c1", "c16", "batch", "floor")) for i in range(len(names))
    ]
    goals = {
        "p50_vs_mlflow": c1[0].pct_ms(50) <= GOALS["p50_vs_mlflow"] * c1[1].pct_ms(50),
        "p50_vs_floor": c1[0].pct_ms(50) <= GOALS["p50_vs_floor"] * floor[0].pct_ms(50),
        "c16_vs_mlflow": c16[0].rate >= GOALS["c16_vs_mlflow"] * c16[1].rate,
        "batch_vs_mlflow": batch[0].item_rate >= GOALS["batch_vs_mlflow"] * batch[1].item_rate,
        "rss": api_rss <= mlflow_rss,
        "failed": failed[0] == 0,
        "log": r["log_rows"] == r["api_answered"] == r["log_ids"],
    }

    def row(label: str, goal: str, values: list[str], ok: str | None = None, vs: tuple = ()) -> str:
        # ``ok``: the goals (space-separated keys) the first value must meet
        first = values[0] + (f" {check(all(goals[k] for k in ok.split()))}" if ok else "")
        ratios = [ratio(*pair) for pair in vs] if vs else ["" for _ in values[1:]]
        cells = [first]
        for value, rel in zip(values[1:], ratios, strict=True):
            cells.append(f"{value} ({rel})" if rel else value)
        return f"| {label} | {goal} | " + " | ".join(cells) + " |"

    def lat(label: str, loads: list[Load], q: int, goal: str = "", ok: str | None = None) -> str:
        values = [load.pct_ms(q) for load in loads]
        return row(
            label, goal, [ms(v) for v in values], ok, tuple((values[0], v) for v in values[1:])
        )

    def rates(
        label: str, loads: list[Load], goal: str = "", ok: str | None = None, items: bool = False
    ) -> str:
        values = [load.item_rate if items else load.rate for load in loads]
        unit = "products/s" if items else "req/s"
        text = [
            f"{v:,.0f} {unit} (slots {_slots(load, items)})"
            for v, load in zip(values, loads, strict=True)
        ]
        return row(label, goal, text, ok, tuple((values[0], v) for v in values[1:]))

    cpu = [1000 * load.server_cpu / load.requests for load in c16]
    mem = r["mem"]
    header = " | ".join(names)
    letters = "ABCDEFGH"[: len(names)]
    order = "-".join(letters + letters[::-1])
    extra = f" plus MLflow with {r['servers'][2][1]} workers" if len(names) > 2 else ""
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        f"{run_line(load_avg)}. Model: default `TrainConfig()` fitted on "
        f"{r['prepare']['train_rows']:,} rows of the built-in catalogue "
        f"({r['prepare']['classes']} classes, holdout weighted F1 "
        f"{r['prepare']['weighted_f1']:.4f}), registered as version {r['prepare']['version']} in a "
        "fresh SQLite MLflow store and served from it by every server at once, each with its "
        "default number of uvicorn workers (the API: `RAKUTEN_API_WORKERS`, one per usable core; "
        f"MLflow's `--workers`: 1){extra}, none pinned to a core, no access log. Load: Debian's "
        "`wrk`, one thread, keep-alive connections on "
        f"127.0.0.1, cycling through {SAMPLE_PRODUCTS} synthetic holdout products (title + HTML "
        f"description, {r['prepare']['mean_input_chars']:,.0f} characters on average); a warm-up "
        f"per server, then each scenario on the servers in {order} order "
        f"({seconds / 2:g} s per slot, {seconds:g} s per server). Latency percentiles from wrk's "
        "histogram (slots merged by request count); ratios in brackets are the API's value over "
        "that server's.",
        "",
        f"| measure | goal | {header} |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
        lat(
            "**one product, concurrency 1, p50 latency**",
            c1,
            50,
            f"≤ {GOALS['p50_vs_mlflow']:g}× MLflow's, "
            f"≤ {GOALS['p50_vs_floor']:g}× the trivial GET's",
            "p50_vs_mlflow p50_vs_floor",
        ),
        lat("one product, concurrency 1, p95 latency", c1, 95),
        lat("one product, concurrency 1, p99 latency", c1, 99),
        rates("one product, concurrency 1, throughput", c1),
        lat("one product, concurrency 16, p50 latency", c16, 50),
        lat("one product, concurrency 16, p95 latency", c16, 95),
        lat("one product, concurrency 16, p99 latency", c16, 99),
        rates(
            "**one product, concurrency 16, throughput**",
            c16,
            f"≥ {GOALS['c16_vs_mlflow']:g}× MLflow's",
            "c16_vs_mlflow",
        ),
        row(
            "server CPU per request, concurrency 16 (whole process tree, `/proc`)",
            "",
            [f"{v:.2f} ms" for v in cpu],
            vs=tuple((cpu[0], v) for v in cpu[1:]),
        ),
        row(
            f"mean micro-batch (`{MICROBATCH}`), concurrency 1 / 16",
            "",
            [f"{c1[0].micro_mean:.2f} / {c16[0].micro_mean:.1f} products per model call"]
            + ["1 / 1 (one `predict` a request)" for _ in names[1:]],
        ),
        lat(f"batch of {BATCH_SIZE}, concurrency 1, p50 latency", batch, 50),
        rates(
            f"**batch of {BATCH_SIZE}, throughput**",
            batch,
            f"≥ {GOALS['batch_vs_mlflow']:g}× MLflow's",
            "batch_vs_mlflow",
            items=True,
        ),
        lat(
            "floor: trivial GET (`/ready`, `/ping`), concurrency 1, p50",
            floor,
            50,
        ),
        row(
            "**memory of a serving process after the runs**, RSS (each worker)",
            "≤ MLflow's",
            [" / ".join(f"{v:,.0f}" for v in m["workers"]) + " MiB" for m in mem],
            "rss",
            tuple((api_rss, max(m["workers"])) for m in mem[1:]),
        ),
        row(
            "memory of the whole process tree, RSS",
            "",
            [f"{m['tree']:,.0f} MiB" for m in mem],
            vs=tuple((mem[0]["tree"], m["tree"]) for m in mem[1:]),
        ),
        row(
            "failed requests: wrk's socket errors, timeouts (> "
            f"{WRK_TIMEOUT}) and answers ≥ 400, all scenarios",
            "0",
            [str(f) for f in failed],
            "failed",
        ),
        row(
            "inference-log rows / products the API answered / distinct request ids",
            "equal",
            [f"{r['log_rows']:,} / {r['api_answered']:,.0f} / {r['log_ids']:,}"]
            + ["(none)" for _ in names[1:]],
            "log",
        ),
        "",
    ]
    labels = {
        "p50_vs_mlflow": f"p50 at concurrency 1 {ratio(c1[0].pct_ms(50), c1[1].pct_ms(50))} "
        f"MLflow's (goal ≤ {GOALS['p50_vs_mlflow']:g}×)",
        "p50_vs_floor": f"p50 at concurrency 1 {ratio(c1[0].pct_ms(50), floor[0].pct_ms(50))} "
        f"the trivial GET's (goal ≤ {GOALS['p50_vs_floor']:g}×)",
        "c16_vs_mlflow": f"throughput at concurrency 16 {ratio(c16[0].rate, c16[1].rate)} "
        f"MLflow's (goal ≥ {GOALS['c16_vs_mlflow']:g}×"
        + (
            f"; {ratio(c16[0].rate, c16[2].rate)} MLflow's with {r['servers'][2][1]} workers)"
            if len(c16) > 2
            else ")"
        ),
        "batch_vs_mlflow": f"batches of {BATCH_SIZE} "
        f"{ratio(batch[0].item_rate, batch[1].item_rate)} MLflow's "
        f"(goal ≥ {GOALS['batch_vs_mlflow']:g}×)",
        "rss": f"a serving process holds {api_rss:,.0f} MiB, MLflow's {mlflow_rss:,.0f} MiB",
        "failed": f"{failed[0]} failed requests",
        "log": f"the inference log holds {r['log_rows']:,} rows for {r['api_answered']:,.0f} "
        "products answered",
    }
    met = [labels[k] for k, ok in goals.items() if ok]
    missed = [labels[k] for k, ok in goals.items() if not ok]
    if missed:
        lines.append(f"**Goals missed: {'; '.join(missed)}.** Met: {'; '.join(met) or 'none'}.")
    else:
        lines.append(f"**Goals met:** {'; '.join(met)}.")
    lines += ["", HOW, "", checks(r, names), ""]
    return "\n".join(lines)


def _label(name: str, workers: int, index: int) -> str:
    plural = "s" if workers > 1 else ""
    if index == 0:
        return f"API (`python -m api`, {workers} worker{plural})"
    if index == 1:
        return f"`mlflow models serve` ({workers} worker{plural}, its default)"
    return f"`mlflow models serve --workers {workers}`"


def _slots(load: Load, items: bool) -> str:
    scale = load.items_per_request if items else 1
    return " and ".join(f"{rate * scale:,.0f}" for rate in load.slot_rates)


def checks(r: dict[str, Any], names: list[str]) -> str:
    """The sanity checks of the run: same answers, nothing lost, no errors; start-up."""
    c1, c16 = r["c1"][0], r["c16"][0]
    ready = ", ".join(f"{n} {s:.1f} s" for n, s in zip(names, r["ready"], strict=True))
    problems = ", ".join(f"{name} {r[f'problems_{name}']}" for name, _ in r["servers"])
    return (
        f"Checks: the API and MLflow predicted the same class for {r['agree']}. The API's own "
        f"request counter shows {r['api_non_2xx']:,.0f} answers other than 2xx and "
        f"{r['log_failed']:,.0f} failed inference-log writes (retried); error or exception lines "
        f"in the servers' logs: {problems}. Its micro-batch histogram (every worker's) counted "
        f"{c1.micro[f'{MICROBATCH}_sum']:,.0f} and {c16.micro[f'{MICROBATCH}_sum']:,.0f} "
        f"products in {c1.micro_calls:,.0f} and {c16.micro_calls:,.0f} model calls during the "
        "measured concurrency-1 and -16 runs. wrk counts requests completed before its deadline; "
        "the few still in flight then are answered and logged too, so the log is checked against "
        "the API's own count of predictions (`rakuten_api_predictions_total`). Start-up to ready, "
        f"all at once: {ready}."
    )
