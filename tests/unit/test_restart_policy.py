"""The restart policy's arithmetic (back-off, limit, new series) and its record file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.restarts.ledger import RestartLedger
from core.restarts.policy import (
    RestartPolicy,
    RestartRecord,
    after_crash,
    after_manual_start,
    after_restart,
    after_running,
)

POLICY = RestartPolicy()  # 1 s doubling to 30 s, new series after 60 s, 5 crashes in 10 min


@pytest.mark.parametrize(
    ("attempt", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (10_000, 30.0)]
)
def test_the_back_off_doubles_up_to_its_cap(attempt: int, delay: float) -> None:
    assert POLICY.delay(attempt) == delay


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"first_delay_s": 0}, "first_delay_s must be > 0"),
        ({"window_s": -1}, "window_s must be > 0"),
        ({"limit": 0}, "limit must be at least 1"),
        ({"first_delay_s": 10, "max_delay_s": 5}, r"max_delay_s \(5\) is below first_delay_s"),
    ],
)
def test_a_bad_policy_is_refused_by_name(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RestartPolicy(**options)  # type: ignore[arg-type]


def crash_loop(policy: RestartPolicy, times: list[float]) -> tuple[RestartRecord, list]:
    """Crash at each time, restarting after the delay each time the policy says so."""
    record, delays = RestartRecord(), []
    for now in times:
        record, delay = after_crash(record, policy, now, exit_code=-9)
        delays.append(delay)
        if delay is not None:
            record = after_restart(record, now + delay)
    return record, delays


def test_more_crashes_than_the_limit_in_the_window_and_it_is_left_stopped() -> None:
    record, delays = crash_loop(POLICY, [0, 10, 20, 30, 40, 50])
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, None]
    assert record.restarts == 5 and record.given_up and record.last_exit_code == -9
    assert record.reason == "crashed 6 times in 10 min: not restarted; see its log"


def test_crashes_older_than_the_window_no_longer_count() -> None:
    # Six crashes, but the first is more than 10 minutes before the last: still restarted.
    record, delays = crash_loop(POLICY, [0, 400, 450, 500, 550, 601])
    assert delays[-1] is not None and not record.given_up and len(record.crashes) == 5


def test_a_service_that_ran_long_enough_backs_off_from_the_start_again() -> None:
    record, _ = crash_loop(POLICY, [0, 5, 10])  # series of 3 restarts, the last at 10 + 4 s
    assert record.series == 3
    assert after_running(record, POLICY, now=14 + 59) == record  # not yet stable
    settled = after_running(record, POLICY, now=14 + 60)
    assert settled.series == 0 and settled.restarts == 3
    assert after_crash(settled, POLICY, 200, exit_code=1)[1] == 1.0


def test_a_person_starting_it_gives_the_policy_a_fresh_window() -> None:
    given_up, _ = crash_loop(RestartPolicy(limit=1), [0, 1])
    assert given_up.given_up
    fresh = after_manual_start(given_up)
    assert (fresh.given_up, fresh.reason, fresh.crashes, fresh.series) == (False, "", (), 0)
    assert fresh.restarts == 1  # the history is kept
    assert after_crash(fresh, RestartPolicy(limit=1), 2, None)[1] == 1.0


def test_the_summary_says_how_often_when_and_why() -> None:
    assert RestartRecord().summary() == ""
    at = datetime(2025, 5, 1, 14, 3, 10, tzinfo=UTC).timestamp()
    record = RestartRecord(restarts=2, last_restart_at=at, last_exit_code=-9)
    assert record.summary() == "restarted 2×, last 14:03:10 UTC — exit code -9"
    unknown = RestartRecord(restarts=1, last_restart_at=at)
    assert unknown.summary().endswith("exit code unknown")
    short = RestartPolicy(limit=1, window_s=30)
    assert after_crash(after_crash(RestartRecord(), short, 0, 1)[0], short, 1, 1)[0].reason == (
        "crashed 2 times in 30 s: not restarted; see its log"
    )


def test_the_ledger_keeps_records_private_and_reads_damage_as_empty(tmp_path: Path) -> None:
    ledger = RestartLedger(tmp_path / "run")
    assert ledger.read("api") == RestartRecord()
    record, _ = crash_loop(POLICY, [0, 10])
    ledger.write("api", record)
    assert ledger.read("api") == record
    path = tmp_path / "run" / "api.restarts.json"
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["api.restarts.json"]  # no temp left
    path.write_text("{not json")
    assert ledger.read("api") == RestartRecord()
