"""A bound on how long a PostgreSQL connection waits for the server's answer.

libpq waits for an answer as long as its socket stays open. A server, or a route, that stops
answering while something still acknowledges the packets (a stalled proxy, a frozen host behind a
load balancer) blocks the calling thread for ever: keepalives are answered, the TCP user timeout
never fires, and ``statement_timeout`` runs on a server that never got the query. The connections
:func:`connection_factory` makes watch every round trip they make (statements, COPY, fetches of
a server-side cursor, commit, rollback: so the pool's pre-ping and reset too): past the deadline
the socket is shut down, the call fails at once with a disconnect error, SQLAlchemy discards the
connection, and the server rolls the transaction back when the end of the stream reaches it.

One thread per process watches every deadline; it starts with the first round trip.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from core.db.watchdog import abort_connection


@dataclass(eq=False)
class _Wait:
    connection: Any
    until: float
    expired: bool = False


class _Deadlines:
    """The round trips in flight and when each gives up; one thread shuts down the late ones."""

    def __init__(self) -> None:
        self._waits: set[_Wait] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def answered_within(self, connection: Any, seconds: float) -> Iterator[None]:
        wait = _Wait(connection, time.monotonic() + seconds)
        with self._changed:
            self._waits.add(wait)
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(
                    target=self._watch, name="db-answer-deadline", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        try:
            yield
        except psycopg2.Error as exc:
            if not wait.expired:
                raise
            # "closed the connection" is how SQLAlchemy knows a disconnect by its message.
            raise psycopg2.OperationalError(
                f"no answer from the server within {seconds:g} s, so the client closed the "
                "connection"
            ) from exc
        finally:
            with self._changed:
                self._waits.discard(wait)

    def _watch(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for wait in [w for w in self._waits if w.until <= now]:
                    wait.expired = True
                    self._waits.discard(wait)
                    abort_connection(wait.connection)
                soonest = min((w.until for w in self._waits), default=None)
                self._changed.wait(None if soonest is None else max(0.0, soonest - now))


_DEADLINES = _Deadlines()


def _forget_after_fork() -> None:
    # A forked child has no watcher thread, and its copy of the lock may be held.
    global _DEADLINES
    _DEADLINES = _Deadlines()


os.register_at_fork(after_in_child=_forget_after_fork)


def connection_factory(answer_timeout: float) -> Callable[..., Any]:
    """A psycopg2 ``connection_factory`` whose connections give up on an answer after
    ``answer_timeout`` seconds.

    Args:
        answer_timeout: Longest wait for one answer of the server, in seconds; it must exceed
            the longest statement (or lock wait) the engine's users run.

    Returns:
        What ``psycopg2.connect(..., connection_factory=...)`` takes (SQLAlchemy passes it on
        from ``connect_args``).
    """
    return functools.partial(_BoundedConnection, answer_timeout=answer_timeout)


class _BoundedConnection(psycopg2.extensions.connection):
    def __init__(self, dsn: str, *args: Any, answer_timeout: float, **kwargs: Any) -> None:
        super().__init__(dsn, *args, **kwargs)
        self.answer_timeout = answer_timeout
        self.cursor_factory = _BoundedCursor

    def answered(self) -> AbstractContextManager[None]:
        """The block waits for one answer of the server, at most ``answer_timeout`` seconds."""
        return _DEADLINES.answered_within(self, self.answer_timeout)

    def commit(self) -> None:
        with self.answered():
            super().commit()

    def rollback(self) -> None:
        with self.answered():
            super().rollback()


def _round_trip(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def bounded(cursor: _BoundedCursor, *args: Any, **kwargs: Any) -> Any:
        with cursor.connection.answered():
            return method(cursor, *args, **kwargs)

    return bounded


def _server_side_round_trip(method: Callable[..., Any]) -> Callable[..., Any]:
    # A client-side cursor already holds every row: only a named cursor's fetch asks the server.
    @functools.wraps(method)
    def bounded(cursor: _BoundedCursor, *args: Any, **kwargs: Any) -> Any:
        if cursor.name is None:
            return method(cursor, *args, **kwargs)
        with cursor.connection.answered():
            return method(cursor, *args, **kwargs)

    return bounded


class _BoundedCursor(psycopg2.extensions.cursor):
    execute = _round_trip(psycopg2.extensions.cursor.execute)
    executemany = _round_trip(psycopg2.extensions.cursor.executemany)
    callproc = _round_trip(psycopg2.extensions.cursor.callproc)
    copy_expert = _round_trip(psycopg2.extensions.cursor.copy_expert)
    copy_from = _round_trip(psycopg2.extensions.cursor.copy_from)
    copy_to = _round_trip(psycopg2.extensions.cursor.copy_to)
    fetchone = _server_side_round_trip(psycopg2.extensions.cursor.fetchone)
    fetchmany = _server_side_round_trip(psycopg2.extensions.cursor.fetchmany)
    fetchall = _server_side_round_trip(psycopg2.extensions.cursor.fetchall)
    scroll = _server_side_round_trip(psycopg2.extensions.cursor.scroll)
