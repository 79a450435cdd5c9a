"""The load-data flow: the Dataset page's Initialize / Load next batch, as a schedulable flow."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger

from core.access import Actor
from core.db.engine import ensure_schema, make_engine
from core.settings import get_settings
from core.usecases import dataset as lifecycle


@flow(name="load-data")
def load_data_flow(
    action: Literal["initialize", "next_batch"] = "next_batch",
    actor: dict[str, Any] | None = None,
) -> dict:
    """Initialize the loaded data, or add the next stratified batch.

    A scheduled run on a dataset that is already complete succeeds without loading anything, so
    the weekly schedule never turns red once everything is loaded.

    Args:
        action: Which step of loading.
        actor: Who triggered the run (:meth:`Actor.as_params`); without it, the schedule acts.
    """
    acting = Actor.from_params(actor) if actor else Actor.schedule("load-data")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    logger = get_run_logger()
    try:
        ensure_schema(engine)
        if action == "initialize":
            result = lifecycle.initialize(engine, settings.initial_load_bp, acting)
        else:
            try:
                result = lifecycle.load_next_batch(engine, settings.batch_bp, acting)
            except lifecycle.LoadRefused as exc:
                if "100 %" not in str(exc):
                    raise
                logger.info(str(exc))
                return {"rows": 0, "message": str(exc)}
    finally:
        engine.dispose()
    logger.info(result.message)
    return {"rows": result.rows, "message": result.message, "stage_bp": result.target_bp}
