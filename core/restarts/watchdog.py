"""The loop of ``make run`` that applies the restart policy to every supervised service."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from core.restarts.policy import (
    RestartPolicy,
    after_crash,
    after_restart,
    after_running,
)
from core.supervisor import Supervisor, SupervisorError

log = logging.getLogger("core.local_stack")  # `make run` shows these lines


class Watchdog:
    """Restarts services whose process died without being stopped, as ``policy`` says.

    A service stopped on purpose (from the Infrastructure page or ``local_stack down``) has no
    PID file and is never restarted. Waiting out a back-off blocks nothing: each :meth:`tick`
    looks at every service once and returns.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        names: Sequence[str],
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._supervisor = supervisor
        self._names = list(names)
        self.policy = policy or RestartPolicy()
        self._clock = clock
        self._due: dict[str, float] = {}  # service → when to restart it
        self._down: set[str] = set()  # reported down, not yet back

    def run(self, stop: threading.Event | None = None, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (forever without one).

        Args:
            stop: Ends the loop when set (tests; ``make run`` ends it with Ctrl-C).
            interval: Seconds between two looks at the services.
        """
        stop = stop or threading.Event()
        while not stop.wait(interval):
            self.tick()

    def tick(self) -> None:
        """Look at every service once: note crashes, restart those whose back-off is over."""
        for name in self._names:
            try:
                self._look_at(name, self._clock())
            except (OSError, SupervisorError) as exc:  # one service must not stop the rest
                log.error("%s: %s", name, exc)

    def _look_at(self, name: str, now: float) -> None:
        ledger = self._supervisor.ledger
        if self._supervisor.running(name):
            if name in self._down:
                self._down.discard(name)
                log.info("%s is running again", name)
            record = ledger.read(name)
            if (settled := after_running(record, self.policy, now)) != record:
                ledger.write(name, settled)
            return
        with self._supervisor.crash(name) as crash:
            if crash is None:  # stopped on purpose, never started, or someone is acting on it
                self._due.pop(name, None)
                if name not in self._down and not self._supervisor.running(name):
                    self._down.add(name)
                    log.warning("%s is stopped", name)
                return
            if name not in self._due:
                record, delay = after_crash(ledger.read(name), self.policy, now, crash.exit_code)
                ledger.write(name, record)
                self._down.add(name)
                tail = self._supervisor.log_tail(name, 5)
                if delay is None:
                    self._supervisor.leave_stopped(name)
                    log.error("%s %s; its log ends with:\n%s", name, record.reason, tail)
                    return
                self._due[name] = now + delay
                log.warning(
                    "%s exited (exit code %s); restarting in %g s. Its log ends with:\n%s",
                    name,
                    "unknown" if crash.exit_code is None else crash.exit_code,
                    delay,
                    tail,
                )
            elif now >= self._due[name]:
                del self._due[name]
                ledger.write(name, after_restart(ledger.read(name), now))
                # Counted before the start: a start that fails (its port taken, what it needs
                # down) leaves the PID file, so it is a crash of the series and backs off longer.
                self._supervisor.relaunch(name)
                log.info("%s restarted", name)
