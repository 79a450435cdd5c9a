"""The API's endpoints, built over one :class:`~api.services.Services` object (no per-request
dependencies)."""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.explanation import EXPLAINED_TERMS, explanation_out
from api.limits import screened_route, token_limit
from api.model import Ranked, ServedModel
from api.schemas import (
    BatchRequest,
    BatchResponse,
    CategoryRef,
    Health,
    InferenceLogHealth,
    InvalidRequest,
    ModelDetail,
    ModelRef,
    PredictRequest,
    PredictResponse,
    Problem,
    ServedModelInfo,
    ShadowHealth,
)
from api.services import Services
from core.registry import CHAMPION
from core.serving.explain import NotExplainable

NO_MODEL = {"model": Problem, "description": "No model loaded yet (the reason is in the detail)"}
INVALID: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not UTF-8 JSON"},
    413: {"model": Problem, "description": "The body is too large"},
    422: {"model": InvalidRequest, "description": "The request does not match the schema"},
}
INLINE_BATCH = 8  # batches up to this size are predicted on the event loop, like single products


def build_router(services: Services) -> APIRouter:
    """Every endpoint, closed over ``services``."""
    limit = services.settings.api_batch_limit
    # Every JSON body is screened before it is parsed (api.limits); the batch's also for its size.
    router = APIRouter(
        responses={404: {"model": Problem}}, route_class=screened_route(token_limit(limit))
    )
    batch = APIRouter(route_class=screened_route(token_limit(limit), max_products=limit))
    bearer = Security(HTTPBearer(auto_error=False, description="RAKUTEN_API_TOKEN"))

    @router.get("/health", tags=["service"])
    async def health() -> Health:
        """Liveness: always 200 while the process runs; the model served, the log's state."""
        follower = services.follower
        model = follower.current
        return Health(
            model_loaded=model is not None,
            model=_info(model) if model else None,
            last_error=follower.last_error,
            last_check=follower.last_check,
            registry_unreachable_since=follower.registry_unreachable_since,
            serving_local_copy=follower.serving_local_copy,
            poll_seconds=services.settings.api_poll_seconds,
            inference_log=InferenceLogHealth(**asdict(services.writer.status())),
            shadow=ShadowHealth(**asdict(services.shadow.status())),
        )

    @router.get("/ready", tags=["service"], responses={503: NO_MODEL})
    async def ready() -> dict[str, object]:
        """Readiness: 200 once a model is loaded, 503 before."""
        model = services.serving()
        return {"ready": True, "version": model.version}

    @router.get("/model", tags=["model"], responses={503: NO_MODEL})
    async def model_detail() -> ModelDetail:
        """The version being served and the classes it predicts."""
        model = services.serving()
        classes = [
            CategoryRef(code=int(c), category=n)
            for c, n in zip(model.codes, model.names, strict=True)
        ]
        return ModelDetail(**_info(model).model_dump(), classes=classes)

    @router.post(
        "/model/reload",
        tags=["model"],
        responses={
            401: {"model": Problem, "description": "Missing or wrong token"},
            403: {"model": Problem, "description": "Reload is disabled (no token set)"},
            503: {"model": Problem, "description": "The champion cannot be loaded"},
        },
    )
    async def reload(
        response: Response,
        background: BackgroundTasks,
        credentials: HTTPAuthorizationCredentials | None = bearer,
        wait: bool = True,
    ) -> Health:
        """Read the canary share and check the champion alias now (instead of at the next poll),
        swapping if it moved; then the challenger's, after the answer.

        ``wait=false``: answer 202 at once with what is served now, and check after the answer
        (the train flow's promotion need not wait for a model load to finish).
        """
        token = services.settings.api_token.get_secret_value()
        if not token:
            raise HTTPException(403, "reload is disabled: set RAKUTEN_API_TOKEN to enable it")
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not wait:
            background.add_task(services.check_models)  # runs in the thread pool
            response.status_code = 202
            return await health()
        await run_in_threadpool(services.canary.refresh)  # a change of share applies now
        await run_in_threadpool(services.follower.check)
        if services.follower.last_error:
            raise HTTPException(503, services.follower.last_error)
        # The challenger's load need not be waited for.
        background.add_task(services.shadow.check, services.canary.share > 0)
        return await health()

    @router.post(
        "/predict",
        tags=["predict"],
        responses={
            **INVALID,
            503: NO_MODEL,
            409: {"model": Problem, "description": "explain: the version cannot be explained"},
        },
    )
    async def predict(body: PredictRequest) -> PredictResponse:
        """Classify one product: the most probable category and the top-k candidates; with
        ``explain``, also why (each term's exact contribution to the linear score)."""
        start = time.perf_counter()
        model, alias = services.answering()
        candidates = await services.batcher.rank(
            model, body.designation, body.description or "", body.top_k
        )
        explanation = None
        if body.explain:
            try:
                found = await run_in_threadpool(
                    model.explain, body.designation, body.description, EXPLAINED_TERMS
                )
            except NotExplainable as exc:
                raise HTTPException(409, str(exc)) from exc
            explanation = explanation_out(found)
        request_id = uuid.uuid4().hex
        latency_ms = (time.perf_counter() - start) * 1000
        services.record(model, [body], [candidates], [request_id], latency_ms, "predict", alias)
        return PredictResponse(
            **_answer(request_id, candidates),
            model=ModelRef(name=model.name, version=model.version, alias=alias),
            latency_ms=latency_ms,
            explanation=explanation,
        )

    @batch.post(
        "/predict/batch",
        tags=["predict"],
        response_model=BatchResponse,
        responses={
            **INVALID,
            503: NO_MODEL,
            413: {"model": Problem, "description": "Too many products, or too large"},
        },
    )
    async def predict_batch(body: BatchRequest) -> JSONResponse:
        """Classify several products at once; answers are in the order given."""
        start = time.perf_counter()
        if len(body.products) > limit:  # what the screen did not see (e.g. an escaped key)
            raise HTTPException(
                413,
                f"batch of {len(body.products)} products is over the limit of {limit} "
                "(RAKUTEN_API_BATCH_LIMIT): split it",
            )
        model, alias = services.answering()
        designations = [p.designation for p in body.products]
        descriptions = [p.description or "" for p in body.products]
        if len(body.products) <= INLINE_BATCH:
            ranked = model.rank_texts(designations, descriptions, body.top_k)
        else:  # a big batch must not hold up the other requests
            ranked = await run_in_threadpool(
                model.rank_texts, designations, descriptions, body.top_k
            )
        request_id = uuid.uuid4().hex
        ids = [f"{request_id}-{i}" for i in range(len(ranked))]
        latency_ms = (time.perf_counter() - start) * 1000
        services.record(model, body.products, ranked, ids, latency_ms, "batch", alias)
        # Plain dicts, not 100 validated models: the shape is BatchResponse's (the OpenAPI
        # spec says so, and the schemathesis test checks every answer against it).
        return JSONResponse(
            {
                "request_id": request_id,
                "model": {"name": model.name, "version": model.version, "alias": alias},
                "predictions": [_answer(i, r) for i, r in zip(ids, ranked, strict=True)],
                "latency_ms": latency_ms,
            }
        )

    router.include_router(batch)

    @router.get("/metrics", tags=["service"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus exposition of the API's metrics."""
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/", include_in_schema=False)
    async def root() -> JSONResponse:
        return JSONResponse({"service": "rakuten predictor API", "docs": "/docs"})

    return router


def _answer(request_id: str, ranked: list[Ranked]) -> dict[str, Any]:
    best = ranked[0]
    return {
        "request_id": request_id,
        "code": best.code,
        "category": best.category,
        "probability": best.probability,
        "top_k": [
            {"code": r.code, "category": r.category, "probability": r.probability} for r in ranked
        ],
    }


def _info(model: ServedModel) -> ServedModelInfo:
    return ServedModelInfo(
        name=model.name,
        version=model.version,
        alias=CHAMPION,
        run_id=model.run_id,
        loaded_at=model.loaded_at,
    )
