"""The serving benchmark's load generator: Debian's ``wrk``, one thread, A-B-…-B-A runs.

``wrk`` is C on epoll: one thread drives 16 keep-alive connections for a small share of one core,
where Python clients spent about half a millisecond of CPU per request, taken from the servers on
a small machine. A Lua script cycles through the request bodies (one per line of a file) and, in
``done()``, prints one JSON line: counts, errors, and the latency quantiles of wrk's histogram
(every 0.1 % from 0.1 % to 99.9 %, then 99.95 %, 99.99 % and the maximum). Slots of one server
are merged by weighting each slot's quantiles by its request count.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import say
from bench.serving_servers import MICROBATCH, Server, cpu_seconds, microbatch_metrics

WRK = Path("/usr/bin/wrk")
WRK_TIMEOUT = "30s"  # a request slower than this counts as a timeout error
MARK = "WRK_JSON "
LUA = r"""
local bodies, counter, method, path = {}, 0, "GET", "/"
function init(args)
  method, path = args[1], args[2]
  for line in io.lines(args[3]) do bodies[#bodies + 1] = line end
  counter = tonumber(args[4])
end
function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  if body == "" then return wrk.format(method, path) end
  return wrk.format(method, path, {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local q = {}
  for i = 1, 999 do q[#q + 1] = string.format("[%.1f,%d]", i / 10, latency:percentile(i / 10)) end
  for _, p in ipairs({99.95, 99.99}) do
    q[#q + 1] = string.format("[%.2f,%d]", p, latency:percentile(p))
  end
  q[#q + 1] = string.format("[100,%d]", latency.max)
  local e = summary.errors
  io.write(string.format(
    '%s{"duration_us":%d,"requests":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"quantiles_us":[%s]}\n', "WRK_JSON ", summary.duration, summary.requests,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(q, ",")))
end
"""


@dataclass
class Slot:
    """One wrk run against one server."""

    requests: int  # completed, whatever their status
    seconds: float
    errors: dict[str, int]  # socket errors (connect, read, write, timeout) and status >= 400
    quantiles: list[tuple[float, float]]  # (percent, latency in seconds)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Load:
    """One scenario against one server: its slots, and what the server spent meanwhile."""

    items_per_request: int = 1
    slots: list[Slot] = field(default_factory=list)
    server_cpu: float = 0.0  # seconds, every process of the server's tree
    micro: Counter[str] = field(default_factory=Counter)  # rakuten_api_microbatch_size deltas

    def merge(self, other: Load) -> None:
        self.items_per_request = other.items_per_request
        self.slots += other.slots
        self.server_cpu += other.server_cpu
        self.micro.update(other.micro)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.slots)

    @property
    def ok(self) -> int:
        """Requests answered with a status below 400."""
        return self.requests - sum(s.errors["status"] for s in self.slots)

    @property
    def failed(self) -> int:
        """Answers of status 400 or more, plus socket errors and timeouts."""
        return sum(sum(s.errors.values()) for s in self.slots)

    @property
    def elapsed(self) -> float:
        return sum(s.seconds for s in self.slots)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def item_rate(self) -> float:
        return self.rate * self.items_per_request

    @property
    def slot_rates(self) -> list[float]:
        return [s.rate for s in self.slots]

    @property
    def micro_calls(self) -> float:
        return self.micro[f"{MICROBATCH}_count"]

    @property
    def micro_mean(self) -> float:
        calls = self.micro_calls
        return self.micro[f"{MICROBATCH}_sum"] / calls if calls else float("nan")

    def pct_ms(self, q: float) -> float:
        """The ``q`` percentile over every slot, in milliseconds."""
        points = sorted(
            (latency, slot.requests / len(slot.quantiles))
            for slot in self.slots
            for _, latency in slot.quantiles
        )
        total = sum(weight for _, weight in points)
        if not total:
            return float("nan")
        running = 0.0
        for latency, weight in points:
            running += weight
            if running >= q / 100 * total - 1e-9:
                return latency * 1000
        return points[-1][0] * 1000


@dataclass(frozen=True)
class Target:
    """What to send to one server for one scenario."""

    server: Server
    method: str
    path: str
    bodies: Path  # one body per line ("" for none)
    items_per_request: int
    micro_batches: bool = False  # scrape the API's micro-batch histogram around the run


def write_bodies(path: Path, bodies: Sequence[bytes]) -> Path:
    """One body a line, as the Lua script reads them (JSON bodies hold no raw newline)."""
    assert all(b"\n" not in body for body in bodies)
    path.write_bytes(b"".join(body + b"\n" for body in bodies))
    return path


def generate(target: Target, connections: int, seconds: float, script: Path) -> Load:
    """Run wrk for ``seconds`` with ``connections`` keep-alive connections from one thread."""
    server = target.server
    micro_before = microbatch_metrics(server) if target.micro_batches else {}
    cpu_before = _tree_cpu(server)
    command = [
        str(WRK),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={WRK_TIMEOUT}",
        "-s",
        str(script),
        f"http://127.0.0.1:{server.port}",
        "--",
        target.method,
        target.path,
        str(target.bodies),
        "0",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    cpu = _tree_cpu(server) - cpu_before
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not lines:
        raise SystemExit(f"wrk failed against {server.name}: {done.stderr or done.stdout}")
    result = json.loads(lines[-1].removeprefix(MARK))
    errors = {k: int(result[k]) for k in ("connect", "read", "write", "timeout", "status")}
    slot = Slot(
        int(result["requests"]),
        result["duration_us"] / 1e6,
        errors,
        [(float(p), us / 1e6) for p, us in result["quantiles_us"]],
    )
    load = Load(target.items_per_request, [slot], cpu)
    if target.micro_batches:
        after = microbatch_metrics(server)
        load.micro = Counter({k: v - micro_before.get(k, 0.0) for k, v in after.items()})
    return load


def _tree_cpu(server: Server) -> float:
    total = 0.0
    for pid in server.tree():
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return total


def interleaved(
    targets: Sequence[Target], connections: int, seconds: float, script: Path
) -> list[Load]:
    """Run the scenario on A, B, …, then in reverse order, each slot half of ``seconds``.

    A drift of the shared machine then weighs on every server alike.
    """
    merged = [Load() for _ in targets]
    order = [*range(len(targets)), *reversed(range(len(targets)))]
    for index in order:
        target = targets[index]
        load = generate(target, connections, seconds / 2, script)
        say(
            f"  {target.server.name:9} {target.path:15} c{connections:<2} "
            f"p50 {load.pct_ms(50):7.2f} ms  {load.rate:8.1f} req/s  failed {load.failed}"
        )
        merged[index].merge(load)
    return merged
