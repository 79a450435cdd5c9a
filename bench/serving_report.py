"""The serving benchmark's section of docs/BENCHMARKS.md: the scenarios' table, goals, checks.

The latency breakdown between them is :mod:`bench.serving_breakdown`'s.
"""

from __future__ import annotations

from typing import Any

from bench.markdown import check, run_line
from bench.serving_breakdown import breakdown, ms, ratio
from bench.serving_load import WARMUP_REQUESTS, Load
from bench.serving_servers import MICROBATCH
from bench.serving_workers import BATCH_SIZE, SAMPLE_PRODUCTS

SECTION = "## Serving"
GOALS = {"p50_ms": 5.0, "throughput_ratio": 3.0}


def report(r: dict[str, Any], command: str, seconds: float, batches: int, load_avg: float) -> str:
    """The "## Serving" section from the results of ``bench/serving.py``'s run."""
    lines = summary(r, command, seconds, batches, load_avg)
    lines += breakdown(r, GOALS["throughput_ratio"])
    lines += checks(r)
    return "\n".join(lines)


def summary(
    r: dict[str, Any], command: str, seconds: float, batches: int, load_avg: float
) -> list[str]:
    """The table of the scenarios, client-observed, and whether the goals are met."""
    prep = r["prepare"]
    api1, mlf1 = r["c1"]
    api16, mlf16 = r["c16"]
    apib, mlfb = r["batch"]
    floor_api, floor_mlf = r["floor"]
    mem_api, mem_mlf, mem_mlf_tree = r["mem_api"], r["mem_mlflow"], r["mem_mlflow_tree"]
    p50_ok = api1.pct_ms(50) < GOALS["p50_ms"]
    ratio16 = api16.rate / mlf16.rate
    ratio_ok = ratio16 >= GOALS["throughput_ratio"]

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

    failures = {
        s: sum(r[k][i].failed for k in ("c1", "c16", "batch", "floor"))
        for i, s in enumerate(("api", "mlflow"))
    }
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        f"{run_line(load_avg)}. Model: default `TrainConfig()` fitted on "
        f"{prep['train_rows']:,} rows of the built-in catalogue ({prep['vocabulary']:,} word "
        f"n-grams, {prep['classes']} classes, holdout weighted F1 {prep['weighted_f1']:.4f}), "
        f"registered as version {prep['version']} in a fresh SQLite MLflow store and served "
        "from it by both servers at once, one uvicorn worker each, no access log. Load from one "
        "Python process on 127.0.0.1 (`http.client` keep-alive connections, one per thread), "
        f"cycling through {SAMPLE_PRODUCTS} synthetic holdout products (title + HTML "
        "description, "
        f"{prep['mean_input_chars']:,.0f} characters on average); {WARMUP_REQUESTS} warm-up "
        f"requests per server, then each scenario on API, MLflow, MLflow, API ({seconds / 2:g}"
        f" s per slot, so {seconds:g} s per server; batches: {batches} requests per "
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
    met = [
        f"p50 at concurrency 1 is {api1.pct_ms(50):.2f} ms (goal < {GOALS['p50_ms']:g} ms)",
        f"throughput at concurrency 16 is {ratio16:.2f}× MLflow's (goal ≥ "
        f"{GOALS['throughput_ratio']:g}×)",
    ]
    oks = [p50_ok, ratio_ok]
    if all(oks):
        lines.append(f"**Goals met:** {met[0]}; {met[1]}; memory reported.")
    else:
        missed = "; ".join(m for m, ok in zip(met, oks, strict=True) if not ok)
        kept = "; ".join(m for m, ok in zip(met, oks, strict=True) if ok)
        lines.append(f"**Goal missed: {missed}.**" + (f" Met: {kept}." if kept else ""))
    lines.append("")
    return lines


def checks(r: dict[str, Any]) -> list[str]:
    """The sanity checks of the run: same answers, nothing lost, no errors; start-up, memory."""
    api1, api16 = r["c1"][0], r["c16"][0]
    mem_mlf, mem_mlf_tree = r["mem_mlflow"], r["mem_mlflow_tree"]
    return [
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
