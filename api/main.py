"""The predictor API: serves the registry's champion, follows the alias, logs every prediction,
and scores a share of them with the ``@challenger`` in shadow (``api.shadow``).

    python -m api                                       # `make api`; where RAKUTEN_API_URL says
    uvicorn api.main:create_app --factory --port 8000   # one process, by hand

Endpoints: ``GET /health`` (liveness), ``GET /ready`` (503 until a model is loaded), ``GET /model``,
``POST /predict``, ``POST /predict/batch``, ``POST /model/reload`` (bearer token), ``GET /metrics``
(Prometheus). Interactive docs at ``/docs``. ``python -m api`` serves from ``RAKUTEN_API_WORKERS``
processes, each one of these apps (``api.workers`` says what they share).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.activity import Activity, ActivityMiddleware
from api.batching import MicroBatcher
from api.canary import Canary
from api.challenger import ChallengerFollower
from api.limits import BodyLimitMiddleware, body_limit
from api.loading import load_scorer
from api.metrics import ApiMetrics, MetricsMiddleware
from api.model import ChampionFollower
from api.routes import build_router
from api.schemas import FIELD_NAMES
from api.services import Services
from api.shadow import WRITE_TIMEOUT as SHADOW_WRITE_TIMEOUT
from api.shadow import Shadow
from api.workers import (
    ReloadSignal,
    WorkerMiddleware,
    one_worker_at_a_time,
    reload_signal_path,
    shared_models,
    watch,
)
from api.writer import InferenceLogWriter
from core.adapters.model_refs import ServingSource, VersionRef
from core.adapters.registry_http import serving_source
from core.db.engine import make_engine
from core.serving import local_copy
from core.serving.compiled import ProductScorer
from core.settings import Settings, get_settings

log = logging.getLogger("api")
MAX_LISTED_ERRORS = 10  # a 422 lists this many problems, then says how many more there are


def create_app(
    settings: Settings | None = None,
    *,
    follower: ChampionFollower | None = None,
    engine: Engine | None = None,
    flush_seconds: float = 0.25,
    reload_signal: Path | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Defaults to the process settings (``RAKUTEN_*`` and ``.env``).
        follower: What resolves and loads the champion; default: the real MLflow registry.
        engine: Database of the inference log; default: ``settings.database_url``.
        flush_seconds: How often buffered inference-log rows are written.
        reload_signal: The file through which workers of one start tell each other to check the
            champion (``api.workers``); default: the one ``python -m api`` set, if any.

    Returns:
        The application; its lifespan loads the champion and starts the background work.
    """
    settings = settings or get_settings()
    metrics = ApiMetrics()
    loader = shared_models(load_scorer)
    if follower is None:
        with one_worker_at_a_time():
            source = serving_source(
                settings.mlflow_tracking_uri, settings.mlflow_username, settings.mlflow_password
            )
        follower = ChampionFollower(
            source,
            metrics,
            loader=loader,
            local_copy_dir=local_copy.champion_dir(settings.var_dir),
        )
    owns_engine = engine is None
    # A write that cannot finish in time is abandoned and retried by the writer, not waited for.
    engine = engine or make_engine(
        settings.database_url, timeout=settings.inference_log_write_timeout
    )
    writer = InferenceLogWriter.from_settings(
        settings, engine, metrics, flush_seconds=flush_seconds
    )
    activity = Activity()
    shadow = _shadow(settings, follower, engine, metrics, loader, activity)
    batcher = MicroBatcher(on_batch=metrics.batch_size.observe)
    canary = Canary(shadow.engine, settings.canary_share)
    services = Services(settings, follower, writer, metrics, batcher, shadow, canary)
    signal_path = reload_signal or reload_signal_path()
    signal = ReloadSignal(signal_path) if signal_path else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        writer.start()
        shadow.start()
        await asyncio.to_thread(canary.refresh)
        await asyncio.to_thread(follower.check)
        if follower.current is None:
            log.warning("starting without a model: %s", follower.last_error)
        tasks = [
            # The challenger loads after the start: serving does not wait for the shadow.
            asyncio.create_task(asyncio.to_thread(shadow.check, canary.share > 0)),
            asyncio.create_task(_follow(services.check_models, settings.api_poll_seconds)),
        ]
        if signal is not None:
            tasks.append(asyncio.create_task(watch(signal, services.check_models)))
        batcher.start()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await batcher.stop()
            await asyncio.gather(asyncio.to_thread(writer.stop), asyncio.to_thread(shadow.stop))
            shadow.engine.dispose()
            if owns_engine:
                engine.dispose()

    app = FastAPI(
        title="Rakuten product classifier",
        summary="Serves the champion of the rakuten-product-classifier registry model",
        version="1",
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(build_router(services))
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(BodyLimitMiddleware, max_bytes=body_limit(settings.api_batch_limit))
    app.add_middleware(ActivityMiddleware, activity=activity)
    if signal is not None:
        app.add_middleware(WorkerMiddleware, signal=signal)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    return app


def _shadow(
    settings: Settings,
    champion: ChampionFollower,
    engine: Engine,
    metrics: ApiMetrics,
    loader: Callable[[ServingSource, VersionRef], ProductScorer] | None,
    activity: Activity,
) -> Shadow:
    """The challenger's shadow, writing through an engine of its own with a short deadline,
    working only while no request is in flight."""
    challenger = ChallengerFollower(champion.store, metrics, champion, loader=loader)
    url = engine.url.render_as_string(hide_password=False)
    shadow_engine = make_engine(url, timeout=SHADOW_WRITE_TIMEOUT)
    return Shadow(
        challenger, shadow_engine, metrics, share=settings.shadow_share, activity=activity
    )


async def _follow(check: Callable[[], object], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(check)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the first few problems by field, without echoing any input (nor field name)."""
    found = exc.errors()
    errors = [_problem(error, exc.body) for error in found[:MAX_LISTED_ERRORS]]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if len(found) > MAX_LISTED_ERRORS:
        detail += f"; … and {len(found) - MAX_LISTED_ERRORS:,} more problems"
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


def _problem(error: Mapping[str, Any], body: object) -> dict[str, Any]:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "json_invalid":  # loc is ("body", <character position>)
        reason = error.get("ctx", {}).get("error", "cannot be parsed")
        message = f"not valid UTF-8 JSON ({reason} at character {loc[-1]})"
        return {"field": "body", "message": message, "type": kind}
    if kind == "extra_forbidden" and loc:
        # The key is the client's text (markup, a megabyte…): say where it is, never what.
        where = _field_path(loc[:-1])
        position = _key_position(body, loc)
        key = f"key {position} of the object" if position else "a key of the object"
        return {"field": where, "type": kind, "message": f"unknown field ({key}): remove it"}
    return {"field": _field_path(loc), "message": message, "type": kind}


def _key_position(body: object, loc: tuple[Any, ...]) -> int | None:
    """1-based position of the key ``loc[-1]`` in the object at ``loc[1:-1]`` of the body."""
    node = body
    for part in loc[1:-1]:
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    if not isinstance(node, dict):
        return None
    return next((i for i, key in enumerate(node, start=1) if key == loc[-1]), None)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "the body cannot be read as JSON: send UTF-8 encoded JSON"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def _field_path(loc: tuple | list) -> str:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        # Only the schema's own names are shown: anything else came from the client.
        name = part if part in FIELD_NAMES else "(unknown field)"
        path += f".{name}" if path else name
    return path or "body"
