"""How the benchmark scripts run what they measure: workers, servers, memory readings, timers.

Each script runs its measurements in fresh interpreters (``python bench/<script>.py --worker
KIND``) so that peak memory (``ru_maxrss``) is the measurement's own, and starts the servers it
compares in their own process group. This module imports nothing heavy: on Linux a child's
``ru_maxrss`` starts at its parent's peak (it survives ``exec``), so a fat parent would inflate
every child's number.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from core.access import Actor, Role

BENCH_ACTOR = Actor(subject="bench", via="bench", role=Role.ADMIN)  # who the benchmarks act as


def say(message: str) -> None:
    """A progress line with the time of day (stdout, flushed: the report follows on stdout)."""
    sys.stdout.write(f"[{datetime.now():%H:%M:%S}] {message}\n")
    sys.stdout.flush()


# --- memory and time -----------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident memory (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory_mib(pid: int | str = "self") -> dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak) of a process, from ``/proc`` (Linux only)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(status.split(f"{key}:")[1].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def elapsed(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def accumulate_time(
    fn: Callable[..., Any],
    times: dict[str, float],
    name: str,
    peaks: dict[str, float] | None = None,
) -> Callable[..., Any]:
    """``fn`` that adds its seconds to ``times[name]`` (and, given ``peaks``, notes the peak RSS).

    Used to time a library function where the code under test looks it up, nothing else changed.
    """

    @functools.wraps(fn)  # keeps the signature (Prefect binds a task's parameters with it)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - start
            if peaks is not None:
                peaks[name] = peak_rss_mib()

    return wrapper


# --- workers (fresh interpreters running one measurement) ----------------------------------------


def isolated_env(*drop_prefixes: str, **values: str) -> dict[str, str]:
    """This process's environment without the variables starting with ``drop_prefixes``.

    Telemetry off and output unbuffered, then ``values`` on top.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.update(DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    env.update(values)
    return env


def worker_arguments(parser: argparse.ArgumentParser, workers: Iterable[str]) -> None:
    """The hidden options with which :func:`run_worker` calls a script back."""
    parser.add_argument("--worker", choices=sorted(workers), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)


def save_result(out: Path, result: dict[str, Any]) -> None:
    """Hand a worker's result to its parent (JSON; anything else as its ``str``)."""
    out.write_text(json.dumps(result, default=str))


def log_tail(log: Path, chars: int = 4_000) -> str:
    return log.read_text(errors="replace")[-chars:]


def run_worker(
    script: str,
    kind: str,
    args: list[str],
    *,
    tmp: Path,
    env: dict[str, str],
    timeout: float,
    tag: str | None = None,
) -> dict[str, Any]:
    """Run ``script --worker kind`` in a fresh interpreter with cwd = ``tmp``; return its result.

    ``tag`` (default ``kind``) names the run's ``.json`` result and ``.log`` in ``tmp``.
    """
    tag = tag or kind
    out, log = tmp / f"{tag}.json", tmp / f"{tag}.log"
    command = [sys.executable, str(Path(script).resolve()), "--worker", kind]
    command += ["--tmp", str(tmp), "--out", str(out), *args]
    say(f"{tag} …")
    with log.open("w") as log_file:
        done = subprocess.run(
            command,
            cwd=tmp,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"worker {tag!r} failed (exit {done.returncode}):\n{log_tail(log)}")
    return json.loads(out.read_text())


# --- servers (their own process group each) ------------------------------------------------------


@contextlib.contextmanager
def process_group(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path, stop_timeout: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` as the leader of a new process group; stop the whole group on the way out.

    SIGTERM first, SIGKILL if the group leader is still there after ``stop_timeout`` seconds.
    """
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(
    name: str, url: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Block until ``url`` answers 200; exit with the log's tail if the server exits or is late."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited:\n{log_tail(log)}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"{name} not ready:\n{log_tail(log)}")
