"""Where the memory and the CPU go during ``bench/many_sessions.py``'s phases, from ``/proc``.

The processes are this benchmark's descendants: Playwright's driver and the Chromium it launched,
``make run`` and the stack's services, each in the process group the supervisor started it in
(``var/run/<service>.pid`` names the group's leader; a flow run is a fork in the worker's group).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chrome", "headless_shell")  # process names (comm) of the browser
SERVICES = ("app", "worker", "mlflow", "prefect", "api")
TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[str, int, int, float]]:
    """pid → (name, parent pid, process group, CPU seconds of it and of its reaped children)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            cpu = sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
            found[int(stat.parent.name)] = (name, int(fields[1]), int(fields[2]), cpu)
    return found


def _machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine since boot (every process, not only ours)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK  # all but idle and iowait


def _pss_mib(pids: list[int]) -> float:
    """Proportional set size of ``pids`` together (shared pages counted once), MiB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(rollup.split("\nPss:")[1].split()[0])
    return total / 1024


class Sampler(threading.Thread):
    """Every ``period`` seconds of a phase: peak memory of Chromium and of the app, and the load
    average; at each phase's start and end: CPU seconds by kind of process and of the machine
    (``cpu[phase]``, with the phase's wall seconds as ``"wall"``)."""

    def __init__(self, run_dir: Path, period: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.groups = {int((run_dir / f"{s}.pid").read_text().split()[0]): s for s in SERVICES}
        self.period = period
        self.phase: str | None = None
        self.memory: dict[str, dict[str, float]] = {}
        self.cpu: dict[str, dict[str, float]] = {}
        self.loads: dict[str, list[float]] = {}
        self._halt = threading.Event()
        self._cpu_at_start: dict[str, float] = {}
        self._phase_start = 0.0

    def _ours(self) -> tuple[dict[int, tuple[str, int, int, float]], dict[int, str]]:
        """Every process, and the kind of each of our descendants."""
        processes = _processes()
        ours, frontier = set(), {os.getpid()}
        while frontier:
            frontier = {p for p, (_, parent, _, _) in processes.items() if parent in frontier}
            ours |= frontier
        kinds = {}
        for pid in ours:
            name, _, group, _ = processes[pid]
            chromium = name.startswith(CHROMIUM_NAMES)
            kinds[pid] = self.groups.get(group, "Chromium" if chromium else "bench + Playwright")
        return processes, kinds

    def _cpu_now(self) -> dict[str, float]:
        processes, kinds = self._ours()
        totals = {"machine": _machine_cpu_s()}
        for pid, kind in kinds.items():
            totals[kind] = totals.get(kind, 0.0) + processes[pid][3]
        return totals

    def enter(self, phase: str | None) -> None:
        """End the current phase (its CPU seconds) and start ``phase`` (None: no phase)."""
        now, at = self._cpu_now(), time.monotonic()
        if self.phase is not None:
            before = self._cpu_at_start
            self.cpu[self.phase] = {k: v - before.get(k, 0.0) for k, v in now.items()}
            self.cpu[self.phase]["wall"] = at - self._phase_start
        self.phase, self._cpu_at_start, self._phase_start = phase, now, at

    def run(self) -> None:
        while not self._halt.wait(self.period):
            if (phase := self.phase) is None:
                continue
            _, kinds = self._ours()
            peaks = self.memory.setdefault(phase, {"Chromium": 0.0, "app": 0.0})
            for kind in peaks:
                pss = _pss_mib([pid for pid, k in kinds.items() if k == kind])
                peaks[kind] = max(peaks[kind], pss)
            self.loads.setdefault(phase, []).append(os.getloadavg()[0])

    def stop(self) -> None:
        self._halt.set()
        self.join()
