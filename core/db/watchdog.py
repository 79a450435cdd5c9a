"""A deadline for database work that cannot trust the network to ever answer.

A PostgreSQL connection whose peer stops answering (a stalled proxy, a black-holed route) blocks
its thread in ``recv`` forever: ``statement_timeout`` runs on a server that never got the query,
keepalives are answered by whatever sits in between. :class:`ConnectionWatchdog` bounds such a
call from the outside: past the deadline it shuts down the sockets of the engine's connections,
so the blocked call fails at once with a disconnect error, SQLAlchemy discards the connection, and
the caller can retry on a fresh one. SQLite's connections are interrupted instead (a running
statement stops; a wait for the write lock is bounded by the busy timeout, see
``core.db.engine.make_engine``'s ``timeout``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event


class DeadlineExceeded(TimeoutError):
    """The work did not finish in time; its connections were aborted."""


class ConnectionWatchdog:
    """Aborts every connection an engine holds when a :meth:`deadline` expires.

    It aborts them all, idle ones included: the stalled one may be in the middle of the pool's
    pre-ping, before the caller even has it, and the others share its way to the server. Meant
    for an engine with a single user (the API's inference-log writer has its own).
    """

    def __init__(self, engine: Engine) -> None:
        self._connections: dict[int, Any] = {}  # id -> DBAPI connection; sqlite3's has no weakref
        self._lock = threading.Lock()
        event.listen(engine, "connect", self._opened)
        event.listen(engine, "checkout", self._checked_out)
        for name in ("close", "close_detached", "invalidate"):
            event.listen(engine, name, self._closed)

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Run the block; if it is still running after ``seconds``, abort the connections.

        Raises:
            DeadlineExceeded: The block failed after its connections were aborted (the error it
                raised is the cause).
        """
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            self.abort_all()

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as exc:
            if fired.is_set():
                raise DeadlineExceeded(f"no answer from the database within {seconds:g} s") from exc
            raise
        finally:
            timer.cancel()

    def abort_all(self) -> None:
        """Make every blocked call on the engine's connections fail now."""
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            abort_connection(connection)

    def _opened(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            self._connections[id(dbapi_connection)] = dbapi_connection

    def _checked_out(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        self._opened(dbapi_connection, None)  # one opened before the watchdog existed

    def _closed(self, dbapi_connection: Any, *_args: Any) -> None:
        with self._lock:
            self._connections.pop(id(dbapi_connection), None)


def abort_connection(connection: Any) -> None:
    """Make every blocked call on ``connection`` (psycopg2 or sqlite3) fail now."""
    if isinstance(connection, sqlite3.Connection):
        with contextlib.suppress(Exception):  # closed already, or bound to its own thread
            connection.interrupt()
        return
    with contextlib.suppress(Exception):  # closed already, or not a socket-based driver
        fd = os.dup(connection.fileno())
        # A shutdown of the duplicate reaches the shared socket: libpq's blocked recv sees the
        # end of the stream and reports the connection lost. The driver still owns its own fd.
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)
