"""Logged requests with the other model's prediction beside them, as the API writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from core.db.tables import inference_log, prediction_feedback, shadow_predictions

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def log(
    engine: Engine,
    request_id: str,
    served: tuple[int, float, int],  # code, probability, version
    other: tuple[int, float, int] | None,
    *,
    canary: bool = False,
    truth: int | None = None,
    minutes: int = 0,
    start: datetime = T0,
) -> None:
    """One logged request ``minutes`` after ``start``: the answer, the other model's prediction
    (None: not scored in shadow), the feedback (``truth``)."""
    at = start + timedelta(minutes=minutes)
    with engine.begin() as conn:
        conn.execute(
            insert(inference_log),
            {
                "request_id": request_id,
                "at": at,
                "designation": f"product {request_id}",
                "description": "",
                "predicted_code": served[0],
                "probability": served[1],
                "model_version": served[2],
                "latency_ms": 4.0 if not canary else 6.0,
                "source": "predict",
                "served_alias": "challenger" if canary else None,
            },
        )
        if other is not None:
            conn.execute(
                insert(shadow_predictions),
                {
                    "request_id": request_id,
                    "at": at,
                    "model_version": other[2],
                    "alias": "champion" if canary else "challenger",
                    "predicted_code": other[0],
                    "probability": other[1],
                    "latency_ms": 1.0 if not canary else 0.5,
                },
            )
        if truth is not None:
            conn.execute(
                insert(prediction_feedback),
                {"request_id": request_id, "true_code": truth, "at": at, "actor": "t"},
            )
