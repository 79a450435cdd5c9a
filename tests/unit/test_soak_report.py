"""The soak benchmark's checks (bench/soak_report.py): what makes a soak pass or fail."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from bench.serving_load import Load, Slot
from bench.soak_report import Minute, Soak, passed, report

NO_ERRORS = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}


def _load(requests: int, items: int, **errors: int) -> Load:
    quantiles = [(50.0, 0.010), (99.0, 0.050), (100.0, 0.200)]
    return Load(items, [Slot(requests, 60.0, NO_ERRORS | errors, quantiles)])


def _minute(rss: float, workers: tuple[int, ...] = (11, 12), **errors: int) -> Minute:
    return Minute(
        single=_load(6_000, 1, **errors),
        batch=_load(100, 60),
        predicted=12_000,
        api_non_2xx=0,
        api_cpu=90.0,
        memory={"rss": rss, "pss": rss * 0.8, "uss": rss * 0.7},
        workers=workers,
        log_queue=0,
        log_spooled=0,
    )


def _healthy() -> Soak:
    """Three minutes, nothing failed, memory flat after minute 1, every prediction logged."""
    return Soak(
        command=".venv/bin/python -m bench.soak --minutes 3 --clients 16",
        load_start=0.5,
        prepared={"train_rows": 25_501, "weighted_f1": 0.88},
        workers=2,
        ready_s=10.0,
        clients=(14, 2),
        mean_batch=60.0,
        memory_start={"rss": 400.0, "pss": 320.0, "uss": 280.0},  # before load: not the baseline
        minutes=[_minute(700.0), _minute(720.0), _minute(740.0)],
        api={"predicted": 36_000, "single_ok": 18_000, "batch_ok": 300, "rows_written": 36_000},
        log_rows={"predict": 18_000, "batch": 18_000},
    )


def test_a_healthy_soak_passes_and_says_so() -> None:
    soak = _healthy()
    section = report(soak)
    assert passed(soak)
    assert "❌" not in section
    assert "**Resident memory growth after the first minute: +5.7%**" in section
    rows = [line for line in section.splitlines() if line.startswith(("| 1 |", "| 2 |", "| 3 |"))]
    assert len(rows) == 3  # one per minute


def _worker_replaced(soak: Soak) -> None:
    soak.minutes[2] = _minute(740.0, workers=(11, 13))


def _one_worker_fewer(soak: Soak) -> None:
    soak.minutes = [_minute(700.0, workers=(11,)) for _ in range(3)]


BROKEN: dict[str, Callable[[Soak], None]] = {
    "one timeout seen by wrk": lambda s: s.minutes.__setitem__(1, _minute(720.0, timeout=1)),
    "one 500 seen by wrk": lambda s: s.minutes.__setitem__(0, _minute(700.0, status=1)),
    "a non-2xx only the API counted": lambda s: s.api.__setitem__("non_2xx", 1),
    "memory +10 % after minute 1": lambda s: s.minutes.__setitem__(2, _minute(770.0)),
    "one row missing from the log": lambda s: s.log_rows.__setitem__("batch", 17_999),
    "rows right in total, wrong by source": lambda s: s.log_rows.update(
        predict=17_999, batch=18_001
    ),
    "a row dropped by the writer": lambda s: s.api.__setitem__("dropped_rows", 1),
    "an exception in the API log": lambda s: s.problems.append("Traceback (most recent call)"),
    "a worker replaced": _worker_replaced,
    "a worker missing throughout": _one_worker_fewer,
}


@pytest.mark.parametrize("breakage", BROKEN.values(), ids=BROKEN.keys())
def test_any_broken_promise_fails_the_soak_and_its_report_shows_it(
    breakage: Callable[[Soak], None],
) -> None:
    soak = _healthy()
    breakage(soak)
    assert not passed(soak)
    assert "❌" in report(soak)


def test_growth_is_measured_from_the_end_of_minute_one_not_from_start_up() -> None:
    soak = dataclasses.replace(_healthy(), memory_start={"rss": 100.0, "pss": 80.0, "uss": 70.0})
    assert soak.growth() == pytest.approx(40 / 700)
    assert passed(soak)
