"""The command line's ``backup`` and ``restore`` commands (wired into :mod:`core.cli`).

python -m core.cli backup FILE
python -m core.cli restore FILE [--replace]

Both act on ``RAKUTEN_DATABASE_URL`` as the OS user (``Actor.os_user()``, an admin), audited.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.access.actor import Actor
from core.backup.database import backup_database, restore_database
from core.backup.manifest import Manifest
from core.db.engine import describe
from core.settings import Settings

log = logging.getLogger("core.cli")


def add_commands(groups: Any) -> None:
    """Add the ``backup`` and ``restore`` commands to the CLI's subparsers ``groups``."""
    backup = groups.add_parser("backup", help="the whole database to one file")
    backup.add_argument("file", type=Path, help="the backup file (replaced when complete)")
    backup.set_defaults(handler=backup_command)
    restore = groups.add_parser("restore", help="a backup file into an empty database")
    restore.add_argument("file", type=Path, help="a file made by `backup`")
    restore.add_argument(
        "--replace", action="store_true", help="empty a database that holds rows first"
    )
    restore.set_defaults(handler=restore_command)


def backup_command(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    """Back up the database to ``args.file``."""
    manifest = backup_database(engine, args.file, actor=Actor.os_user())
    log.info("Backed up %s to %s: %s.", describe(engine), args.file, _counts(manifest))


def restore_command(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    """Restore ``args.file`` into the database."""
    manifest = restore_database(engine, args.file, actor=Actor.os_user(), replace=args.replace)
    log.info(
        "Restored %s (made %s from %s) into %s: %s.",
        args.file,
        manifest.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
        manifest.source_backend,
        describe(engine),
        _counts(manifest),
    )


def _counts(manifest: Manifest) -> str:
    return ", ".join(f"{t.name} {t.rows:,}" for t in manifest.tables)
