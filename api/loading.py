"""How the API loads a registered version (compiled in a child process, or its pipeline) and
keeps the champion's local copy (:mod:`core.serving.local_copy`)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.adapters.model_refs import ServingSource, VersionRef
from core.adapters.registry_http import HttpRegistry
from core.serving import local_copy
from core.serving.compiled import CompiledModel, ProductScorer
from core.serving.isolated import compile_in_child

if TYPE_CHECKING:
    from api.model import ServedModel

log = logging.getLogger("api.model")


def load_scorer(store: ServingSource, ref: VersionRef) -> ProductScorer:
    """The version's model: compiled, or its pipeline when it cannot be.

    A process that has not imported scikit-learn (the API under uvicorn) has the version compiled
    by a child process and never imports it (:mod:`core.serving.isolated`); one that has (the
    tests, a notebook) compiles here, at no extra memory.
    """
    if "sklearn" not in sys.modules:
        compiled = compile_in_child(store.uri, ref, _credentials(store))
        if compiled is not None:
            return compiled
    from core.serving.compile import serving_scorer  # scikit-learn, to read the pipeline

    return serving_scorer(store.load_pipeline(ref))


def _credentials(store: ServingSource) -> tuple[str, str] | None:
    # An MlflowModelStore has put its credentials in the environment the child inherits.
    if isinstance(store, HttpRegistry) and store.username:
        return store.username, store.password.get_secret_value()
    return None


def keep_local_copy(directory: Path, model: ServedModel, store_uri: str) -> None:
    """Save the version just loaded as the local copy; a failure only costs the fallback."""
    try:
        if not isinstance(model.scorer, CompiledModel):
            # An older copy would be served after a restart in place of this champion.
            local_copy.remove(directory)
            log.warning(
                "no local copy of version %s: it is served by its pipeline, not compiled",
                model.version,
            )
            return
        now = datetime.now(UTC)
        manifest = local_copy.Manifest(
            model.name, model.version, model.run_id, model.loaded_at, now, store_uri, ""
        )
        local_copy.save(directory, model.scorer, manifest)
        log.info("saved the local copy of version %s in %s", model.version, directory)
    except Exception as exc:  # noqa: BLE001 - serving goes on without the copy
        log.error("cannot save the local copy of version %s: %s", model.version, exc)
