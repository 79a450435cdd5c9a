"""The errors every manager raises: one small hierarchy, each message something a person can act on.

Pages catch :class:`ManagerError` and show ``str(exc)`` with ``st.error``; the SDK or driver error
stays attached as ``__cause__`` for the logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.access import PermissionDenied


class ManagerError(Exception):
    """Base of every error a manager raises."""


class ServiceUnavailable(ManagerError):
    """The service cannot be reached or answered with a failure of its own."""


class NotFound(ManagerError):
    """The thing asked for does not exist (yet)."""


class Rejected(ManagerError):
    """The request was understood and refused: bad input, or not allowed in the current state."""


class Forbidden(ManagerError):
    """The acting person's role does not allow the action ("needs the operator role"); nothing
    was changed, and the refusal is in the audit log."""


@contextmanager
def permission_errors() -> Iterator[None]:
    """The core's :class:`PermissionDenied` as :class:`Forbidden`, with the same reason."""
    try:
        yield
    except PermissionDenied as exc:
        raise Forbidden(str(exc)) from exc
