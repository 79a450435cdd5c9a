"""The restart policy's arithmetic, on plain values: no processes, no files, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime


@dataclass(frozen=True)
class RestartPolicy:
    """When a crashed service is started again, and when the supervisor stops trying.

    The back-off doubles from ``first_delay_s`` up to ``max_delay_s`` with each restart of a
    series; a service that then runs ``stable_after_s`` seconds starts a new series. More than
    ``limit`` crashes within ``window_s`` seconds and it is left stopped.
    """

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    stable_after_s: float = 60.0
    limit: int = 5
    window_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("first_delay_s", "max_delay_s", "stable_after_s", "window_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RestartPolicy.{name} must be > 0, not {getattr(self, name)}")
        if self.limit < 1:
            raise ValueError(f"RestartPolicy.limit must be at least 1, not {self.limit}")
        if self.max_delay_s < self.first_delay_s:
            raise ValueError(
                f"RestartPolicy.max_delay_s ({self.max_delay_s}) is below first_delay_s "
                f"({self.first_delay_s})"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based) of a series.

        Args:
            attempt: 1 for the first restart since the service last ran long enough.

        Returns:
            ``first_delay_s * 2 ** (attempt - 1)``, capped at ``max_delay_s``.
        """
        if attempt < 1:
            raise ValueError(f"restart attempt numbers start at 1, not {attempt}")
        # Capped before the power: a service in its thousandth series must not overflow a float.
        return min(self.first_delay_s * 2 ** min(attempt - 1, 64), self.max_delay_s)


@dataclass(frozen=True)
class RestartRecord:
    """What the policy did to one service; times are seconds since the epoch."""

    restarts: int = 0  # automatic restarts, ever
    last_restart_at: float | None = None
    last_exit_code: int | None = None  # None: it was not this supervisor's child, or no crash yet
    crashes: tuple[float, ...] = ()  # within the policy's window
    series: int = 0  # restarts since it last ran ``stable_after_s``
    given_up: bool = False
    reason: str = ""  # why it was left stopped

    def summary(self) -> str:
        """``restarted 2×, last 14:03:10 UTC — exit code -9``, or "" when never restarted."""
        if not self.restarts or self.last_restart_at is None:
            return ""
        at = datetime.fromtimestamp(self.last_restart_at, UTC)
        code = "unknown" if self.last_exit_code is None else str(self.last_exit_code)
        return f"restarted {self.restarts}×, last {at:%H:%M:%S} UTC — exit code {code}"


def after_crash(
    record: RestartRecord, policy: RestartPolicy, now: float, exit_code: int | None
) -> tuple[RestartRecord, float | None]:
    """Note a crash at ``now`` and decide what follows.

    Args:
        record: The service's record so far.
        policy: The restart policy.
        now: When the crash was seen.
        exit_code: The process's exit code (negative: the signal that ended it), if known.

    Returns:
        The new record, and the delay before the restart, or None when the service is to be left
        stopped (``record.reason`` then says why).
    """
    crashes = (*(t for t in record.crashes if t > now - policy.window_s), now)
    noted = replace(record, crashes=crashes, last_exit_code=exit_code)
    if len(crashes) > policy.limit:
        reason = (
            f"crashed {len(crashes)} times in {_duration(policy.window_s)}: not restarted; "
            "see its log"
        )
        return replace(noted, given_up=True, reason=reason), None
    return noted, policy.delay(record.series + 1)


def after_restart(record: RestartRecord, now: float) -> RestartRecord:
    """Count a restart made at ``now``."""
    return replace(
        record, restarts=record.restarts + 1, last_restart_at=now, series=record.series + 1
    )


def after_running(record: RestartRecord, policy: RestartPolicy, now: float) -> RestartRecord:
    """The service runs at ``now``: once it has run ``stable_after_s`` since its last restart,
    the next crash starts a new series (back-off from ``first_delay_s`` again)."""
    if record.series and (now - (record.last_restart_at or now)) >= policy.stable_after_s:
        return replace(record, series=0)
    return record


def after_manual_start(record: RestartRecord) -> RestartRecord:
    """A person started it: the policy starts afresh (the count of restarts is kept)."""
    return replace(record, crashes=(), series=0, given_up=False, reason="")


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"
