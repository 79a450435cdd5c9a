"""The command line's ``access`` and ``audit`` commands (wired into :mod:`core.cli`).

python -m core.cli access list
python -m core.cli access grant SUBJECT_OR_EMAIL ROLE [--if-unassigned]
python -m core.cli access revoke SUBJECT_OR_EMAIL
python -m core.cli audit [--last N] [--person TEXT] [--action ACTION] [--outcome OUTCOME]

Changes are made as the OS user (``Actor.os_user()``, an admin) and audited like any other;
``grant --if-unassigned`` is how a fresh stack makes its first admin without overriding a later
choice.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.access.actor import Actor, Role
from core.access.audit_store import audit_entries
from core.access.permissions import Action
from core.access.roles import assign_role, assigned_role, revoke_role, role_assignments_frame
from core.settings import Settings

log = logging.getLogger("core.cli")
OUTCOMES = ("done", "refused", "failed")
AUDIT_SHOWN = ["at", "who", "role", "action", "target", "outcome", "message"]


def add_commands(groups: Any) -> None:
    """Add the ``access`` and ``audit`` command groups to the CLI's subparsers ``groups``."""
    access = groups.add_parser("access", help="who has which role").add_subparsers(
        dest="command", required=True
    )
    access.add_parser("list", help="every role assignment").set_defaults(handler=list_roles)
    grant = access.add_parser("grant", help="give a person a role (replaces an assignment)")
    grant.add_argument("principal", help="the person's subject or email (any case)")
    grant.add_argument("role", choices=[r.value for r in Role])
    grant.add_argument(
        "--if-unassigned",
        action="store_true",
        help="do nothing when the person already has an assignment (bootstraps the first admin)",
    )
    grant.set_defaults(handler=grant_role)
    revoke = access.add_parser("revoke", help="remove a person's assignment")
    revoke.add_argument("principal", help="the subject or email the assignment was made for")
    revoke.set_defaults(handler=remove_role)

    audit = groups.add_parser("audit", help="the latest audited actions, newest first")
    audit.add_argument("--last", type=_positive, default=20, metavar="N", help="default: 20")
    audit.add_argument("--person", default="", help="part of the subject or email")
    audit.add_argument(
        "--action", choices=[a.value for a in Action], metavar="ACTION", help="e.g. rollback"
    )
    audit.add_argument("--outcome", choices=OUTCOMES)
    audit.set_defaults(handler=show_audit)


def list_roles(_args: argparse.Namespace, settings: Settings, engine: Engine) -> None:
    """Print every assignment, then where everyone else's role comes from."""
    with engine.connect() as conn:
        frame = role_assignments_frame(conn)
    if frame.empty:
        log.info("No role assigned.")
    else:
        log.info("%s", frame.to_string(index=False))
    log.info(
        "Anyone else: the role their identity provider's %r claim names, else %s "
        "(RAKUTEN_DEFAULT_ROLE).",
        settings.role_claim,
        settings.default_role,
    )


def grant_role(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    """Assign the role, unless ``--if-unassigned`` and the person has one already."""
    who = args.principal.strip()
    if args.if_unassigned:
        with engine.connect() as conn:
            current = assigned_role(conn, who, None)
        if current is not None:
            log.info("%s already has an assignment (%s): nothing to do.", who, current)
            return
    assign_role(engine, who, Role(args.role), Actor.os_user())
    log.info("%s is now %s.", who, args.role)


def remove_role(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    """Remove the assignment; the claim's role or the default applies again."""
    who = args.principal.strip()
    role = revoke_role(engine, who, Actor.os_user())
    log.info(
        "The assignment of %s (%s) is removed: their identity provider's role or the default "
        "applies from their next page load.",
        who,
        role,
    )


def show_audit(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    """Print the latest audited actions, filtered."""
    with engine.connect() as conn:
        entries = audit_entries(
            conn,
            person=args.person.strip() or None,
            action=args.action,
            outcome=args.outcome,
            limit=args.last,
        )
    if entries.empty:
        log.info("No audited action matches.")
        return
    log.info("%s", audit_table(entries).to_string(index=False))


def audit_table(entries: pd.DataFrame) -> pd.DataFrame:
    """The audit rows as a terminal shows them: who by email (else subject), short messages."""
    return entries.assign(
        at=entries["at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        who=entries["email"].where(entries["email"].fillna("") != "", entries["subject"]),
        message=entries["message"].str.replace(r"\s+", " ", regex=True).str.slice(0, 80),
    )[AUDIT_SHOWN]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value
