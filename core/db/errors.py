"""Which database failures are about the data, and which about the database being unreachable.

A writer retries the second kind (the same rows will go through once the connection is back) and
isolates the first (retrying cannot help: the row itself is refused). Drivers refuse some values
before they reach the server, with plain Python errors: psycopg2 raises ``ValueError`` for a NUL
character, both drivers ``UnicodeEncodeError`` for a lone surrogate, sqlite3 ``OverflowError``
for an integer beyond 64 bits.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

_DATA_ERRORS = (DataError, IntegrityError)
_DRIVER_VALUE_ERRORS = (ValueError, TypeError, OverflowError)  # UnicodeError is a ValueError


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "these values are refused" rather than "the database is unreachable".

    Args:
        exc: What a write raised.

    Returns:
        ``True`` for data errors (constraint violations, values the driver or the server cannot
        store); ``False`` for everything else (connection lost, timeouts, locks, missing tables),
        which is worth retrying.
    """
    if isinstance(exc, DBAPIError):
        return isinstance(exc, _DATA_ERRORS) and not exc.connection_invalidated
    if isinstance(exc, StatementError):  # a non-DBAPI error SQLAlchemy wrapped
        return isinstance(exc.orig, _DRIVER_VALUE_ERRORS)
    return isinstance(exc, _DRIVER_VALUE_ERRORS)


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """One short line naming a database error, without the SQL or the values it carried.

    SQLAlchemy's own text appends the statement and its parameters, and PostgreSQL's detail line
    quotes the failing row: neither belongs in a log line or a health answer.

    Args:
        exc: The error.
        limit: At most this many characters of the driver's first message line.

    Returns:
        ``"<ErrorClass>: <first line of the driver's message>"``.
    """
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit:
        first = first[:limit] + "…"
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__
