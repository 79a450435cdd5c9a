"""The dataset's use cases, shared by the Dataset page (through its manager), the CLI and the flow.

Importing a catalogue and the three loading steps are the state changes of the data lifecycle;
each takes the engine, the numbers it needs from the settings and a required :class:`Actor`.
The loading steps are :mod:`core.data.loading`'s own functions (they already are plain functions
over the engine); they are named here too so that every caller finds the whole lifecycle in one
place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from core.access import Actor, audited, checks
from core.access.audit_store import SqlAuditLog
from core.access.permissions import Action
from core.data.csv_source import named_source
from core.data.importer import NamedSource, Source, read_challenge_files, read_labelled_csv
from core.data.loading import LoadRefused, LoadResult, initialize, load_next_batch, reset
from core.data.store import DatasetExists, ImportSummary, import_action, import_products
from core.data.synthetic import generate_catalogue

__all__ = [
    "Catalogue",
    "DatasetExists",
    "ImportSummary",
    "LoadRefused",
    "LoadResult",
    "builtin_catalogue",
    "challenge_catalogue",
    "import_catalogue",
    "initialize",
    "labelled_catalogue",
    "load_next_batch",
    "reset",
]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A catalogue to import: its name for people, and how to read it (validated)."""

    name: str
    read: Callable[[], pd.DataFrame]


def builtin_catalogue(rows: int, seed: int) -> Catalogue:
    """The built-in synthetic catalogue of ``rows`` products."""
    return Catalogue(
        f"built-in catalogue ({rows:,} rows, seed {seed})",
        lambda: generate_catalogue(rows, seed=seed),
    )


def challenge_catalogue(
    x: Source | NamedSource, y: Source | NamedSource, name: str | None = None
) -> Catalogue:
    """The challenge's X/Y pair, named ``"X.csv + Y.csv"`` unless ``name`` is given."""
    return Catalogue(name or f"{_name(x)} + {_name(y)}", lambda: read_challenge_files(x, y))


def labelled_catalogue(source: Source | NamedSource) -> Catalogue:
    """One CSV that carries ``prdtypecode``."""
    return Catalogue(_name(source), lambda: read_labelled_csv(source))


@checks(Action.IMPORT_DATA, Action.REPLACE_DATA)
def import_catalogue(
    engine: Engine,
    catalogue: Catalogue,
    *,
    holdout_fraction: float,
    seed: int,
    actor: Actor,
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read, validate and import a catalogue, replacing the dataset when ``replace`` allows it.

    Args:
        engine: Target database (schema already created).
        catalogue: What to import.
        holdout_fraction: Share of each class kept for evaluation.
        seed: Seed of the holdout and of the load order.
        actor: Who imports.
        replace: Must be true when a dataset is already imported.
        progress: Told each step, for callers that show one.

    Returns:
        What was written.

    Raises:
        DataValidationError: The catalogue is refused (nothing is written).
        DatasetExists: A dataset is present and ``replace`` is false.
        PermissionDenied: ``actor`` may not import (or replace) the data; nothing is read.
    """
    step = progress or _quiet
    params = {"source": catalogue.name, "replace": replace}
    audit = SqlAuditLog(engine)
    # Checked before reading: a person who may not import does not get a file parsed either.
    with audited(audit, actor, import_action(replace), target="dataset", params=params):
        step(f"Reading and validating {catalogue.name}…")
        frame = catalogue.read()
        step(f"Writing {len(frame):,} products (holdout split, load order)…")
        return import_products(
            engine,
            frame,
            source=catalogue.name,
            holdout_fraction=holdout_fraction,
            seed=seed,
            actor=actor,
            replace=replace,
        )


def _name(source: Source | NamedSource) -> str:
    return named_source(source, "products.csv").name


def _quiet(_step: str) -> None:
    """Progress sink for callers that show none."""
