"""The database as the managers see it: one engine, its schema made once, its errors translated.

The dataset, inference-log and drift managers share one :class:`Database`; each turns the
domain's own refusals into :class:`Rejected` where it knows them, and this turns everything the
driver raises into a message naming the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from app.managers.errors import Forbidden, ManagerError, Rejected, ServiceUnavailable
from core.access import AuditLog, PermissionDenied
from core.access.audit_store import SqlAuditLog
from core.data.importer import DataValidationError
from core.data.loading import LoadRefused
from core.data.store import DatasetExists
from core.db.engine import describe, ensure_schema

T = TypeVar("T")

# What the data lifecycle refuses, in words a person can act on.
_REFUSALS = (DataValidationError, DatasetExists, LoadRefused)


class Database:
    """One engine for every database manager; reads and writes come out as ``ManagerError``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._schema_ready = False

    @property
    def engine(self) -> Engine:
        """The engine, for the use cases a manager calls."""
        return self._engine

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return describe(self._engine)

    def audit_log(self) -> AuditLog:
        """The audit trail's writer, on this database (schema made first)."""
        with self._translated():
            return SqlAuditLog(self._engine)

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run ``query`` on a connection of its own."""
        with self._translated(), self._engine.connect() as conn:
            return query(conn)

    def write(self, action: Callable[[Engine], T]) -> T:
        """Run ``action`` (it opens its own transaction) on the engine."""
        with self._translated():
            return action(self._engine)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            if not self._schema_ready:
                ensure_schema(self._engine)
                self._schema_ready = True
            yield
        except PermissionDenied as exc:
            raise Forbidden(str(exc)) from exc
        except _REFUSALS as exc:
            raise Rejected(str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            raise ServiceUnavailable(
                f"Database not reachable at {self.url} ({_first_line(exc)}). Start it, or point "
                "RAKUTEN_DATABASE_URL at a running database (see .env.example)."
            ) from exc
        except (SQLAlchemyError, self._engine.dialect.loaded_dbapi.Error, OSError) as exc:
            # A driver error that no SQLAlchemy call wrapped (the bulk import wraps its own).
            raise ManagerError(f"Database error on {self.url}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return next(iter(text.splitlines()), type(exc).__name__)
