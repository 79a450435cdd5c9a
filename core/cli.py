"""Command line for scripts, flows and people without a browser.

python -m core.cli data import [--rows N] [--x X.csv --y Y.csv | --csv F.csv] [--replace]
python -m core.cli data import --if-empty      # what `make run` does on a fresh machine
python -m core.cli data init | next | reset --yes | status | history
python -m core.cli access list | grant PERSON ROLE [--if-unassigned] | revoke PERSON
python -m core.cli audit [--last N] [--person TEXT] [--action ACTION] [--outcome OUTCOME]
python -m core.cli backup FILE | restore FILE [--replace]

PERSON is a subject or an email. Every change is made as the OS user (``Actor.os_user()``, an
admin) and audited: the load history says "<user> (cli)". The access and audit commands live in
:mod:`core.access.commands`, backup and restore in :mod:`core.backup.commands`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.access import Actor, PermissionDenied
from core.access.commands import add_commands
from core.backup import BackupError
from core.backup import commands as backup_commands
from core.data import queries
from core.data.importer import DataValidationError
from core.db.engine import describe, ensure_schema, make_engine
from core.runtime_files import make_private, private_umask
from core.settings import Settings, describe_settings_error, get_settings
from core.usecases import dataset as lifecycle

log = logging.getLogger("core.cli")
_REFUSALS = (
    DataValidationError,
    lifecycle.DatasetExists,
    lifecycle.LoadRefused,
    PermissionDenied,
    BackupError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code (0 ok, 1 refused, 2 usage)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        log.error("%s", describe_settings_error(exc))
        return 2
    # The SQLite database holds every prediction: it and the rest of var/ are the owner's only.
    with private_umask():
        make_private(settings.var_dir)
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        args.handler(args, settings, engine)
    except (*_REFUSALS, ValueError) as exc:
        log.error("refused: %s", exc)
        return 1
    except SQLAlchemyError as exc:
        reason = next(iter(str(getattr(exc, "orig", None) or exc).splitlines()), "")
        log.error("database error on %s: %s", describe(engine), reason)
        return 1
    finally:
        engine.dispose()
    return 0


def _import(args: argparse.Namespace, settings: Settings, engine: Engine) -> None:
    if args.if_empty:
        with engine.connect() as conn:
            status = queries.dataset_status(conn)
        if status.source is not None:
            log.info("Dataset already imported (%s): nothing to do.", status.source)
            return
    if args.csv:
        catalogue = lifecycle.labelled_catalogue(args.csv)
    elif args.x or args.y or (settings.challenge_x_path and settings.challenge_y_path):
        x = args.x or settings.challenge_x_path
        y = args.y or settings.challenge_y_path
        if not (x and y):
            raise DataValidationError("arguments", "--x and --y go together")
        catalogue = lifecycle.challenge_catalogue(x, y)
    else:
        rows = args.rows or settings.synthetic_rows
        log.info(
            "Generating the built-in catalogue (%s rows, seed %s)…", f"{rows:,}", settings.seed
        )
        catalogue = lifecycle.builtin_catalogue(rows, settings.seed)
    summary = lifecycle.import_catalogue(
        engine,
        catalogue,
        holdout_fraction=settings.holdout_fraction,
        seed=settings.seed,
        actor=Actor.os_user(),
        replace=args.replace,
    )
    log.info(
        "Imported %s: %s products in the pool, %s in the holdout.",
        summary.source,
        f"{summary.pool_rows:,}",
        f"{summary.holdout_rows:,}",
    )


def _init(_args: argparse.Namespace, settings: Settings, engine: Engine) -> None:
    log.info(lifecycle.initialize(engine, settings.initial_load_bp, Actor.os_user()).message)


def _next(_args: argparse.Namespace, settings: Settings, engine: Engine) -> None:
    log.info(lifecycle.load_next_batch(engine, settings.batch_bp, Actor.os_user()).message)


def _reset(args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    if not args.yes:
        raise lifecycle.LoadRefused("reset unloads every product: add --yes to confirm")
    log.info(lifecycle.reset(engine, Actor.os_user()).message)


def _status(_args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    with engine.connect() as conn:
        status = queries.dataset_status(conn)
    if status.source is None:
        log.info("No dataset imported. Run: python -m core.cli data import")
        return
    log.info("source:   %s", status.source)
    log.info(
        "pool:     %s products, holdout %s", f"{status.pool_rows:,}", f"{status.holdout_rows:,}"
    )
    log.info("loaded:   %s (%.1f %%)", f"{status.loaded_rows:,}", 100 * status.share)
    log.info("last load: %s", status.last_load_at or "never")


def _history(_args: argparse.Namespace, _settings: Settings, engine: Engine) -> None:
    with engine.connect() as conn:
        frame = queries.load_history_frame(conn)
    if frame.empty:
        log.info("No loads yet.")
        return
    log.info(frame[["loaded_at", "action", "rows", "cumulative_pct", "triggered_by"]].to_string())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.cli", description=__doc__.split("\n")[0])
    groups = parser.add_subparsers(dest="group", required=True)
    data = groups.add_parser("data", help="import and load products").add_subparsers(
        dest="command", required=True
    )
    imp = data.add_parser("import", help="import the built-in catalogue or challenge files")
    imp.add_argument("--rows", type=int, help="size of the built-in catalogue")
    imp.add_argument("--x", type=Path, help="X_train_update.csv")
    imp.add_argument("--y", type=Path, help="Y_train_CVw08PX.csv")
    imp.add_argument("--csv", type=Path, help="one CSV that carries prdtypecode")
    imp.add_argument("--replace", action="store_true", help="replace the current dataset")
    imp.add_argument("--if-empty", action="store_true", help="only when nothing is imported")
    imp.set_defaults(handler=_import)
    data.add_parser("init", help="load the initial stratified share").set_defaults(handler=_init)
    data.add_parser("next", help="load the next stratified batch").set_defaults(handler=_next)
    rst = data.add_parser("reset", help="unload every product")
    rst.add_argument("--yes", action="store_true", help="confirm")
    rst.set_defaults(handler=_reset)
    data.add_parser("status", help="where loading stands").set_defaults(handler=_status)
    data.add_parser("history", help="every load so far").set_defaults(handler=_history)
    add_commands(groups)
    backup_commands.add_commands(groups)
    return parser


if __name__ == "__main__":
    sys.exit(main())
