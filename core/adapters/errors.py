"""What adapters raise: a small hierarchy of their own, the SDK's error kept as ``__cause__``.

Managers in ``app/`` translate these into messages a person can act on; flows and the CLI show
``str(exc)``. Each message already names the system and where it was looked for.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter raises."""


class Unreachable(AdapterError):
    """The system did not answer, or answered with a failure of its own (5xx, timeout)."""


class Missing(AdapterError):
    """The thing asked for does not exist (a version, a run, a deployment, a container)."""


class Refused(AdapterError):
    """The system understood the request and refused it (4xx, a conflict, bad input)."""
