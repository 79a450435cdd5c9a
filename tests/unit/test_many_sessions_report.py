"""The many-sessions benchmark's checks and numbers (bench/many_sessions_report.py), the ways its
sessions go through the pages (bench/many_sessions_browser.py) and when its operator sees a run
end (bench/many_sessions_operator.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from bench.many_sessions_browser import PAGES, Visit, order
from bench.many_sessions_operator import Operator, RunOutcome, ended_after
from bench.many_sessions_report import Measured, passed, report


def _visits(session: int, seconds: list[float]) -> list[Visit]:
    """One visit of each page per second given, pages in turn."""
    names = list(PAGES)
    return [
        Visit(session, names[i % len(names)], 0.0, s * 1000, [], []) for i, s in enumerate(seconds)
    ]


def _healthy() -> Measured:
    """Phase 1 shows pages in 1..16 s by the sidebar (100 s to open the app); phase 2 takes 3×
    as long (the same to open); the runs all Completed."""
    opening = Visit(0, "Home", 0.0, 100_000.0, [], [], opening=True)  # a full load: apart
    single = [opening, *_visits(0, [float(s) for s in range(1, 17)])]
    team = [opening, *_visits(1, [3.0 * s for s in range(1, 17)])]
    operator = Operator(
        runs=[
            RunOutcome("train", "dancing-cat", "Completed", 40.0),
            RunOutcome("monitor", "quiet-owl", "Completed", 30.0),
        ]
    )
    cpu = {"wall": 60.0, "machine": 100.0, "Chromium": 50.0, "app": 20.0}
    return Measured(
        single=single,
        team=team,
        operator=operator,
        single_s=60.0,
        team_s=120.0,
        memory={"single": {"Chromium": 500.0, "app": 250.0}},
        cpu={"single": cpu, "team": cpu},
        load={"single": 1.0, "team": 2.0},
    )


ARGS = argparse.Namespace(sessions=20, rounds=3, rows=20_000, traffic=300)


def test_a_healthy_run_passes_and_its_report_shows_p95_alone_and_under_the_team() -> None:
    measured = _healthy()
    section = report(measured, ARGS, load=0.5)
    assert passed(measured)
    assert "❌" not in section
    assert section.startswith("## Many sessions\n")
    assert "--sessions 20 --rounds 3 --rows 20000 --publish" in section
    # Times seen, no interpolation: of 1..16 s, p50 is 8 s and p95 16 s; three times that later.
    assert "p95 over every page: 16.00 s with 1 session, 48.00 s with 20 (3.0×)" in section
    lines = section.splitlines()
    every_page = next(line for line in lines if line.startswith("| **every"))
    assert every_page.endswith("| 16 | 8.00 | 16.00 | 16 | 24.00 | 48.00 | 3.0× |")
    opening = next(line for line in lines if line.startswith("| opening the app"))
    assert opening.endswith("| 1 | 100.00 | 100.00 | 1 | 100.00 | 100.00 | 1.0× |")
    assert sum(line.startswith("| ") for line in lines) == 2 + 1 + len(PAGES) + 1
    assert "train runs completed: 1 run(s), 1 Completed ✅" in section
    assert "the machine busy 100 s, of which this benchmark 70 s (Chromium 50, app 20)" in section
    assert "Chromium, which in a team runs on each person's own machine, 71% of it" in section


def _exception(m: Measured) -> None:
    next(v for v in m.team if v.page == "Predictions").exceptions.append("KeyError: 'champion'")


def _timeout(m: Measured) -> None:
    m.team[1].ms = None


def _failed_train(m: Measured) -> None:
    m.operator.runs[0] = RunOutcome("train", "dancing-cat", "Failed", 40.0)


def _no_drift_check(m: Measured) -> None:
    del m.operator.runs[1]


def _stuck_run(m: Measured) -> None:
    m.operator.problems.append("train run ('dancing-cat', 'Running') not finished")


def _app_killed(m: Measured) -> None:
    m.exits.append("app exited (exit code -9)")


BROKEN: dict[str, Callable[[Measured], None]] = {
    "an exception on a page": _exception,
    "a page never rendered": _timeout,
    "a train run failed": _failed_train,
    "no drift check ran": _no_drift_check,
    "a run never ended": _stuck_run,
    "a service exited": _app_killed,
}


@pytest.mark.parametrize("breakage", BROKEN.values(), ids=BROKEN.keys())
def test_any_missed_goal_fails_the_run_and_its_report_shows_it(
    breakage: Callable[[Measured], None],
) -> None:
    measured = _healthy()
    breakage(measured)
    assert not passed(measured)
    assert "❌" in report(measured, ARGS, load=0.5)


def test_a_page_never_rendered_counts_as_the_slowest_not_as_missing() -> None:
    measured = _healthy()
    _timeout(measured)  # one of 16 in phase 2: its p95 is that page
    section = report(measured, ARGS, load=0.5)
    assert "p95 over every page: 16.00 s with 1 session, > 300 s with 20 (–)" in section
    assert "pages not rendered within 300 s: 1 ❌" in section


def test_a_service_that_exited_is_named() -> None:
    measured = _healthy()
    _app_killed(measured)
    section = report(measured, ARGS, load=0.5)
    assert "no service exited (`make run`'s watchdog restarts one that does): 1 ❌" in section
    assert "— app exited (exit code -9)" in section


def test_the_exceptions_seen_are_named_in_the_report() -> None:
    measured = _healthy()
    _exception(measured)
    section = report(measured, ARGS, load=0.5)
    assert "1× “Predictions: KeyError: 'champion'”" in section


def test_every_session_visits_every_page_once_a_round_and_orders_differ() -> None:
    orders = [order(session) for session in range(20)]
    assert all(sorted(o) == sorted(PAGES) for o in orders)
    assert len({tuple(o) for o in orders}) == 2 * len(PAGES)  # every rotation, both ways
    # At any step of a round, the first 16 sessions are spread over every page twice.
    for step in range(len(PAGES)):
        assert sorted(o[step] for o in orders[:16]) == sorted(list(PAGES) * 2)


@pytest.mark.parametrize(
    ("now", "before", "ended"),
    [
        (None, None, False),  # no panel yet
        (("new-run", "Running"), None, False),
        (("new-run", "Completed"), None, True),
        (("old-run", "Completed"), ("old-run", "Completed"), False),  # still the previous run
        (("new-run", "Failed"), ("old-run", "Completed"), True),
        (("new-run", "Pending"), ("old-run", "Completed"), False),
    ],
)
def test_the_operator_waits_for_the_run_it_started_to_end(
    now: tuple[str, str] | None, before: tuple[str, str] | None, ended: bool
) -> None:
    assert ended_after(now, before) is ended
