"""What the acting person may not do, as the text a disabled control shows (never hidden).

The rules live in :mod:`core.access.permissions`; the pages ask here and hand the reasons to the
components, which only disable and explain (the managers refuse again, whatever the page does).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.access import Actor
from core.access.permissions import Action, why_not

# Nothing refused: the default of components that take ``refused``.
NO_REFUSALS: Mapping[Action, str] = MappingProxyType({})


def reason(actor: Actor, action: Action) -> str | None:
    """Why ``actor`` may not take ``action`` ("needs the operator role"), or None when allowed."""
    return why_not(actor.role, action)


def refusals(actor: Actor, *actions: Action) -> Mapping[Action, str]:
    """The reasons of those of ``actions`` that ``actor`` may not take (empty: all allowed)."""
    found = {action: reason(actor, action) for action in actions}
    return MappingProxyType({action: why for action, why in found.items() if why is not None})


def explain(why: str | None, otherwise: str | None = None) -> str | None:
    """A control's help: the role it needs first, else its own help."""
    return why or otherwise
