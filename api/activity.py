"""Whether the API is answering a request right now, so that background work can yield to it.

The shadow's scoring and writes (:mod:`api.shadow`) run in a thread of the serving process: while
they hold the interpreter, a request that arrives waits for them. So each of their steps starts
only once no request has been in flight for a moment (:meth:`Activity.until_quiet`), and a request
that arrives meanwhile waits at most for that one step — not for a queue of them. The thread looks
at a fixed pace rather than being woken at every request's end: under load, being woken a
thousand times a second would itself take the interpreter from the requests. Under a load that
never leaves the API quiet, the shadow falls behind, and its bounded queue drops (and counts)
what it cannot take.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send


class Activity:
    """HTTP requests in flight, counted on the event loop, and when the last one ended."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_end = float("-inf")  # time.monotonic()

    def enter(self) -> None:
        """A request began (called on the event loop only)."""
        self.in_flight += 1

    def leave(self) -> None:
        """A request ended, answered or not."""
        self.in_flight -= 1
        if self.in_flight == 0:
            self.last_end = time.monotonic()

    def until_quiet(self, quiet: float) -> float:
        """Seconds until no request will have been in flight for ``quiet`` seconds, if none
        comes (0: it is so now); read from another thread, without a lock (two plain reads)."""
        if self.in_flight:
            return quiet
        return max(0.0, self.last_end + quiet - time.monotonic())


class ActivityMiddleware:
    """Counts every HTTP request in :class:`Activity` from its start to its last byte sent."""

    def __init__(self, app: ASGIApp, activity: Activity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.activity.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.activity.leave()
