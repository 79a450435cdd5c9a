"""Fail fast while a service is known not to answer: a small circuit breaker for HTTP adapters.

A page that makes several calls to a hung server (it accepts connections and never answers, or
the route drops packets) would wait a full timeout on each. Once one call has waited in vain, the
calls of the next ``cooldown`` seconds fail at once with the same message and since when; then one
caller is let through to probe again, while the others keep failing fast until it knows.

Only failures that cost waiting open the breaker. A refused connection answers in a millisecond:
every call may try again, so a server that is started again is seen at once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from core.adapters.errors import Unreachable

SLOW_FAILURE_S = 0.5  # a failure that took longer waited for an answer (a timeout, slow DNS)


class CircuitBreaker:
    """Remembers, for one server and for every thread of the process, that it does not answer."""

    def __init__(self, cooldown: float = 10.0) -> None:
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._message = ""  # "" while closed: the server answered last time it was asked
        self._since: datetime | None = None
        self._retry_at = 0.0  # time.monotonic() from which one caller may ask again

    def before_call(self) -> bool:
        """Raise :class:`Unreachable` while the server is remembered as not answering.

        Returns:
            True when the cooldown has passed and this caller is the one let through: it should
            ask the server quickly (a probe) before anything slow. False while closed.
        """
        with self._lock:
            if not self._message:
                return False
            now = time.monotonic()
            if now < self._retry_at:
                raise Unreachable(self._open_message())
            self._retry_at = now + self.cooldown  # the others keep failing fast meanwhile
            return True

    def failed(self, message: str, waited: float, timed_out: bool) -> None:
        """A call failed without an answer after ``waited`` seconds: open if it cost waiting."""
        if not timed_out and waited < SLOW_FAILURE_S:
            return
        with self._lock:
            if not self._message:
                self._since = datetime.now(UTC)
            self._message = message
            self._retry_at = time.monotonic() + self.cooldown

    def answered(self) -> None:
        """The server answered (whatever it said): close."""
        with self._lock:
            self._message, self._since = "", None

    def _open_message(self) -> str:
        since = f" No answer since {self._since:%H:%M:%S} UTC." if self._since else ""
        return f"{self._message}{since}"
