"""The soak benchmark's results, its checks and its section of docs/BENCHMARKS.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.markdown import check, run_line
from bench.serving_load import WRK_TIMEOUT, Load
from bench.serving_workers import SAMPLE_PRODUCTS

SECTION = "## Soak"
MAX_GROWTH = 0.10  # resident memory growth allowed from the end of minute 1 to the end


@dataclass
class Minute:
    """One one-minute segment of the soak, and the API's state at its end."""

    single: Load  # the wrk process sending /predict
    batch: Load  # the one sending /predict/batch
    predicted: float  # products the API predicted during the minute (its own counter)
    api_non_2xx: float  # answers other than 2xx the API counted during the minute
    api_cpu: float  # CPU seconds of the API's whole process tree
    memory: dict[str, float]  # rss, pss, uss of the API's process tree at the end, MiB
    workers: tuple[int, ...]  # the serving processes at the end
    log_queue: float  # inference-log rows queued in the workers' memory at the end
    log_spooled: float  # rows spilled to the spool file so far (the buffer was full)

    @property
    def seconds(self) -> float:
        return max(self.single.elapsed, self.batch.elapsed)

    @property
    def failed(self) -> int:
        return self.single.failed + self.batch.failed

    def summary(self, index: int) -> str:
        """A progress line."""
        return (
            f"minute {index}: {self.single.rate:6.0f} + {self.batch.rate:4.0f} req/s, "
            f"{self.predicted / self.seconds:6.0f} products/s, /predict p99 "
            f"{self.single.pct_ms(99):6.1f} ms, batch p99 {self.batch.pct_ms(99):6.1f} ms, "
            f"errors {self.failed}, RSS {self.memory['rss']:.0f} MiB, "
            f"PSS {self.memory['pss']:.0f}, log queue {self.log_queue:.0f}, "
            f"spooled {self.log_spooled:.0f}"
        )


@dataclass
class Soak:
    """Everything one run of ``bench.soak`` measured."""

    command: str
    load_start: float
    prepared: dict[str, Any]  # what the prepare worker said about the model
    workers: int
    ready_s: float
    clients: tuple[int, int]  # connections sending single products, batches
    mean_batch: float
    memory_start: dict[str, float]  # after start-up, before any load
    minutes: list[Minute] = field(default_factory=list)
    drain_s: float = 0.0
    api: dict[str, float] = field(default_factory=dict)  # the API's counters at the end
    log_rows: dict[str, int] = field(default_factory=dict)  # inference-log rows by source
    problems: list[str] = field(default_factory=list)  # exception or error lines of its log
    load_end: float = 0.0
    niceness: int = 0  # of this run and so of the API and wrk (not of the PostgreSQL server)

    @property
    def requests(self) -> int:
        return sum(m.single.requests + m.batch.requests for m in self.minutes)

    @property
    def errors(self) -> int:
        """Failed requests as wrk saw them, or the API's non-2xx count if it saw more."""
        return max(sum(m.failed for m in self.minutes), int(self.api.get("non_2xx", 0)))

    def growth(self, kind: str = "rss") -> float:
        """Growth of the process tree's memory from the end of minute 1 to the end."""
        first, last = self.minutes[0].memory[kind], self.minutes[-1].memory[kind]
        return (last - first) / first if first else float("inf")

    @property
    def log_matches(self) -> bool:
        """Rows in PostgreSQL = products predicted, single and batch each as answered."""
        single = self.log_rows.get("predict", 0)
        return (
            sum(self.log_rows.values()) == self.api.get("predicted")
            and single == self.api.get("single_ok")
            and not self.api.get("dropped_rows")
        )

    @property
    def same_workers(self) -> bool:
        """No worker process died or was replaced during the soak."""
        seen = {m.workers for m in self.minutes}
        return len(seen) == 1 and len(next(iter(seen))) == self.workers


def passed(soak: Soak) -> bool:
    """Whether every check of the soak holds."""
    return (
        soak.errors == 0
        and soak.growth() < MAX_GROWTH
        and soak.log_matches
        and not soak.problems
        and soak.same_workers
    )


def ms(seconds_ms: float) -> str:
    return f"{seconds_ms:.1f}" if seconds_ms < 100 else f"{seconds_ms:,.0f}"


def latencies(load: Load) -> str:
    return " · ".join(ms(load.pct_ms(q)) for q in (50, 99, 100))


def _table(soak: Soak) -> list[str]:
    lines = [
        "| minute | requests/s: single + batch | products/s | `/predict` p50 · p99 · max (ms) "
        "| `/predict/batch` p50 · p99 · max (ms) | errors | API CPU (cores) "
        "| RSS · PSS · USS (MiB) | inference log: queued · spooled so far (rows) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for index, m in enumerate(soak.minutes, 1):
        memory = " · ".join(f"{m.memory[k]:,.0f}" for k in ("rss", "pss", "uss"))
        lines.append(
            f"| {index} | {m.single.rate:,.0f} + {m.batch.rate:,.1f} "
            f"| {m.predicted / m.seconds:,.0f} | {latencies(m.single)} | {latencies(m.batch)} "
            f"| {m.failed + int(m.api_non_2xx)} | {m.api_cpu / m.seconds:.2f} | {memory} "
            f"| {m.log_queue:,.0f} · {m.log_spooled:,.0f} |"
        )
    return lines


def _verdicts(soak: Soak) -> list[str]:
    first, last = soak.minutes[0].memory, soak.minutes[-1].memory
    api, rows = soak.api, soak.log_rows
    single_rows, batch_rows = rows.get("predict", 0), rows.get("batch", 0)
    ones = " (one minute: nothing to compare)" if len(soak.minutes) == 1 else ""
    workers = soak.minutes[-1].workers
    behind = api.get("predicted", 0) - api.get("rows_written", 0)
    caught_up = (
        f"the log caught up {soak.drain_s:.1f} s after the last minute"
        if behind <= 0 and not api.get("queue_rows")
        else f"{behind:,.0f} rows still unwritten {soak.drain_s:.0f} s after the last minute "
        f"({api.get('queue_rows', 0):,.0f} queued in memory), when writing stalled"
    )
    return [
        f"- {check(soak.errors == 0)} **{soak.errors} errors** in {soak.requests:,} requests "
        f"(wrk: status ≥ 400, socket errors, timeouts over {WRK_TIMEOUT}; the API's own count "
        f"of answers other than 2xx: {api.get('non_2xx', 0):,.0f}).",
        f"- {check(soak.growth() < MAX_GROWTH)} **Resident memory growth after the first minute: "
        f"{soak.growth():+.1%}**{ones} (goal < {MAX_GROWTH:.0%}): RSS of the API's process tree "
        f"(master + {soak.workers} workers) {first['rss']:,.0f} MiB at the end of minute 1, "
        f"{last['rss']:,.0f} MiB at the end; PSS {first['pss']:,.0f} → {last['pss']:,.0f} MiB "
        f"({soak.growth('pss'):+.1%}), USS {first['uss']:,.0f} → {last['uss']:,.0f} MiB "
        f"({soak.growth('uss'):+.1%}). Before any load: RSS {soak.memory_start['rss']:,.0f} MiB.",
        f"- {check(soak.log_matches)} **Inference log: {sum(rows.values()):,} rows in "
        f"PostgreSQL for {api.get('predicted', 0):,.0f} products the API predicted** "
        f"({single_rows:,} from {api.get('single_ok', 0):,.0f} `/predict` answers, "
        f"{batch_rows:,} from {api.get('batch_ok', 0):,.0f} batches); the writers counted "
        f"{api.get('rows_written', 0):,.0f} rows written, {api.get('dropped_rows', 0):,.0f} "
        f"dropped, {api.get('spooled_rows', 0):,.0f} spooled, "
        f"{api.get('write_failures', 0):,.0f} in failed (retried) writes; {caught_up}.",
        f"- {check(not soak.problems)} **API log: {len(soak.problems)} exception or error lines.**",
        f"- {check(soak.same_workers)} **Worker processes: {len(workers)} at the end, the same "
        "throughout** (none died or was restarted)."
        if soak.same_workers
        else f"- {check(False)} **Worker processes changed during the soak**: "
        + "; ".join(f"minute {i}: {m.workers}" for i, m in enumerate(soak.minutes, 1)),
    ]


def report(soak: Soak) -> str:
    """The "## Soak" section."""
    p = soak.prepared
    single_c, batch_c = soak.clients
    single_total = sum(m.single.requests for m in soak.minutes)
    batch_total = sum(m.batch.requests for m in soak.minutes)
    share = batch_total / (single_total + batch_total) if single_total + batch_total else 0.0
    setup = (
        f"Model: default `TrainConfig()` fitted on {p['train_rows']:,} rows of the built-in "
        f"catalogue (holdout weighted F1 {p['weighted_f1']:.4f}), registered in a fresh SQLite "
        "MLflow store and promoted to champion. The API runs as `make run` starts it: "
        f"`python -m api` with its default `RAKUTEN_API_WORKERS` ({soak.workers} workers, ready in "
        f"{soak.ready_s:.1f} s), its inference log on PostgreSQL (127.0.0.1:5432, a fresh "
        "database created and dropped by the run). Load: two Debian `wrk` processes side by side, "
        f"one thread each, {single_c + batch_c} keep-alive connections on 127.0.0.1 in all: "
        f"{single_c} sending one product per `/predict`, {batch_c} sending `/predict/batch` with "
        f"20–100 products ({soak.mean_batch:.0f} on average), cycling through {SAMPLE_PRODUCTS} "
        f"holdout products; closed loop: {share:.1%} of the requests were batches. "
        f"{len(soak.minutes)} back-to-back one-minute segments (a new wrk pair each), "
        "latency percentiles from wrk's histogram; between segments, the API's process tree "
        "(`python -m api`, its uvicorn workers and their helpers) is sampled: RSS from "
        "`/proc/<pid>/status`, PSS and USS from `/proc/<pid>/smaps_rollup`; products/s from "
        "the API's own `rakuten_api_predictions_total`. "
        f"Load average {soak.load_start:.2f} at the start, {soak.load_end:.2f} at the end; "
        f"the API and wrk ran at niceness {soak.niceness} (the PostgreSQL server at its own)."
    )
    lines = [
        SECTION,
        "",
        f"Command: `{soak.command}`",
        f"{run_line(soak.load_start)}. {setup}",
        "",
        *_verdicts(soak),
        "",
        *_table(soak),
        "",
        "wrk counts the requests completed before each segment's deadline; the few in flight "
        "then are answered (and logged) after it, so the inference log is checked against the "
        "API's own counters, not wrk's.",
        "",
    ]
    return "\n".join(lines)
