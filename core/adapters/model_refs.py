"""The model store's values (a run, where a version is) and the small port serving uses.

Apart from :mod:`core.adapters.model_store` so that a serving process can name these without
importing MLflow (the ``mlflow`` package alone brings pandas and pyarrow: about 120 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.registry import MODEL_NAME


@dataclass(frozen=True)
class RunRecord:
    """One training run: its identity, state, parameters, metrics and tags."""

    run_id: str
    name: str
    started: datetime
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class VersionRef:
    """Where a registered version's model is: its number, run and logged model's URI."""

    version: int
    run_id: str
    source: str


class ServingSource(Protocol):
    """The part of the model store a predictor uses: find the champion (or another alias), load
    a version."""

    uri: str  # where it is, for messages and links

    def check_reachable(self) -> None:
        """Raise :class:`~core.adapters.errors.Unreachable` at once when the server is down."""
        ...

    def champion_ref(self) -> VersionRef:
        """Where the champion alias points (:class:`~core.adapters.errors.Missing` if none)."""
        ...

    def alias_ref(self, alias: str) -> VersionRef:
        """Where ``alias`` points (:class:`~core.adapters.errors.Missing` if it is not set)."""
        ...

    def load_pipeline(self, ref: VersionRef) -> Any:
        """The fitted pipeline of a version (its own logged model, not an alias)."""
        ...


def no_alias(alias: str) -> str:
    """What a registry without ``alias`` is said to have: "no champion yet: … has no @champion"."""
    return f"no {alias} yet: {MODEL_NAME} has no @{alias}"
