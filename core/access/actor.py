"""The acting person (or schedule) behind a change, passed down from wherever it started.

Every state-changing use case and manager method takes an ``actor``: the page passes the person
using the app, the CLI the operating-system user, a flow the person who triggered it or its
schedule. It lands in the load history, the promotion log, flow-run parameters and MLflow run tags
(:attr:`Actor.label`), so "who did this" always has an answer.
"""

from __future__ import annotations

import getpass
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a person may do; each role may do everything the one before it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts.

    Attributes:
        subject: Stable identifier: the identity provider's ``sub``, the OS user, a schedule name.
        via: How they were identified: ``local`` (no provider: the one person on this machine),
            ``oidc``, ``cli`` (OS user), ``schedule``, ``flow``.
        role: What they may do.
        email: Where known.
        name: Display name, where known.
    """

    subject: str
    via: str
    role: Role
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """Short text for logs and history columns (at most 100 characters)."""
        who = self.email or self.name or self.subject
        return f"{who} ({self.via})"[:100]

    def as_params(self) -> dict[str, Any]:
        """JSON-ready form, for flow-run parameters."""
        return {**asdict(self), "role": self.role.value}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Actor:
        """Inverse of :meth:`as_params`."""
        return cls(**{**params, "role": Role(params["role"])})

    @classmethod
    def local_admin(cls) -> Actor:
        """The one person of a control room without an identity provider (127.0.0.1 only)."""
        return cls(subject="local", via="local", role=Role.ADMIN, name="local admin")

    @classmethod
    def os_user(cls) -> Actor:
        """Whoever runs the CLI: the OS user, with the rights of the machine's owner."""
        return cls(subject=_os_user(), via="cli", role=Role.ADMIN)

    @classmethod
    def schedule(cls, deployment: str) -> Actor:
        """A scheduled flow run, acting on its own."""
        return cls(subject=deployment, via="schedule", role=Role.OPERATOR)

    @classmethod
    def flow(cls, name: str, on_behalf_of: Actor | None = None) -> Actor:
        """A flow acting for ``on_behalf_of`` (who triggered it), or on its own."""
        return on_behalf_of or cls(subject=name, via="flow", role=Role.OPERATOR)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown"
