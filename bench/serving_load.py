"""The serving benchmark's load generator: keep-alive HTTP clients in threads, A-B-B-A runs.

It imports nothing heavy, so that the client's own cost stays small and steady.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import say
from bench.serving_servers import (
    JSON,
    MICROBATCH,
    START_TIMEOUT_S,
    Server,
    cpu_seconds,
    microbatch_metrics,
)

WARMUP_REQUESTS = 200  # per server, before any measurement
WARMUP_PER_CONNECTION = 5  # per connection and run, unmeasured (connect, first bytes)


@dataclass
class Load:
    """Requests of one scenario against one server (slots merged)."""

    latencies: list[float] = field(default_factory=list)  # seconds, answered requests
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    server_ms: list[float] = field(default_factory=list)  # the API's own latency_ms
    elapsed: float = 0.0
    items: int = 0  # products predicted (a batch counts its size)
    sent: int = 0  # products the server was asked to predict, per-connection warm-ups included
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
        self.items += other.items
        self.sent += other.sent
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu
        self.micro.update(other.micro)
        self.slot_rates += other.slot_rates

    @property
    def ok(self) -> int:
        """Requests answered 200."""
        return len(self.latencies)

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
    remaining = count or 0
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

    def another() -> bool:  # whether a thread sends one more request
        nonlocal remaining
        if seconds is not None:
            return time.perf_counter() < window["deadline"]
        with lock:
            remaining -= 1
            return remaining >= 0

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
        while another():
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
    total.sent = total.items + concurrency * WARMUP_PER_CONNECTION * target.items_per_request
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
