"""Where the many-sessions benchmark says the CPU and memory went (bench/many_sessions_procs.py):
each service's process group, as the local supervisor starts them, is counted as that service."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.many_sessions_procs import SERVICES, Sampler

if not Path("/proc/self/smaps_rollup").exists():
    pytest.skip("reads Linux's /proc", allow_module_level=True)

# Sleeps until told, then burns about 0.6 s of CPU, says so, and sleeps on (still counted).
BURNER = """
import sys, time
sys.stdin.readline()
start = time.process_time()
while time.process_time() - start < 0.6:
    pass
print("burnt", flush=True)
time.sleep(60)
"""


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """One process per service, each the leader of its own group, with its PID file; the worker
    burns CPU when asked."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    started = {}
    for name in SERVICES:
        code = BURNER if name == "worker" else "import time; time.sleep(60)"
        started[name] = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        (run_dir / f"{name}.pid").write_text(f"{started[name].pid} 12345")
    yield started
    for process in started.values():
        process.kill()
        process.wait()


def test_a_service_cpu_and_memory_are_counted_as_that_service(
    tmp_path: Path, services: dict[str, subprocess.Popen[str]]
) -> None:
    time.sleep(0.5)  # the interpreters' start-up is before the phase
    sampler = Sampler(tmp_path / "run", period=0.05)
    sampler.start()
    try:
        sampler.enter("busy")
        worker = services["worker"]
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        assert worker.stdout.readline() == "burnt\n"
        time.sleep(0.2)  # a few memory samples
        sampler.enter(None)
    finally:
        sampler.stop()
    cpu = sampler.cpu["busy"]
    assert cpu["worker"] >= 0.5
    assert cpu["app"] < 0.2  # asleep all along
    assert cpu["machine"] >= cpu["worker"]
    assert cpu["wall"] >= 0.6
    assert sampler.memory["busy"]["app"] > 1  # an interpreter: MiB, not zero
    assert sampler.memory["busy"]["Chromium"] == 0  # no browser here
    assert sampler.loads["busy"]
