"""The challenger in shadow: the API scores the ``@challenger`` off the request path.

On the real API under uvicorn, over the real MLflow store of ``model_store`` (v1 champion, v2
challenger): the champion's answers are byte-identical with shadow scoring on and off; the
inference log and ``shadow_predictions`` hold both predictions of every request id; the running
API follows the challenger alias as it moves; a database refusing the shadow's rows changes no
answer. The queue's bounds and the follower's rules are checked on the classes themselves, in
``test_shadow_parts.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import Engine, select, text

from core.adapters.predictor import HttpPredictor
from core.db.engine import ensure_schema, make_engine
from core.db.tables import inference_log, shadow_predictions
from core.registry import CHALLENGER
from tests.api.conftest import ModelStore, api_settings, running_api

ID = re.compile(rb'"request_id":"[0-9a-f]{32}')
LATENCY = re.compile(rb'"latency_ms":[-+.0-9eE]+')
VARYING = {"request_id", "latency_ms"}
AGREEMENT = re.compile(r'rakuten_api_shadow_predictions_total\{agreement="\w+"\} ([.0-9]+)')


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def shadow_health(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/health", timeout=10).json()["shadow"]


@dataclass(frozen=True)
class Exchange:
    path: str
    body: dict[str, Any]


def exchanges(holdout: pd.DataFrame) -> list[Exchange]:
    """Singles (with and without a description, several top_k, one explained) and batches."""
    sample = holdout.sample(24, random_state=11)
    products = [
        {"designation": d, "description": s} if i % 3 else {"designation": d}
        for i, (d, s) in enumerate(zip(sample.designation, sample.description, strict=True))
    ]
    singles = [Exchange("/predict", {**p, "top_k": 1 + i % 5}) for i, p in enumerate(products[:12])]
    singles.append(Exchange("/predict", {**products[0], "explain": True}))
    batches = [
        Exchange("/predict/batch", {"products": products[12:18]}),
        Exchange("/predict/batch", {"products": products[18:], "top_k": 3}),
    ]
    return singles + batches


def answers(url: str, plan: list[Exchange]) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=30) as client:
        replies = [client.post(e.path, json=e.body) for e in plan]
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    return replies


def comparable(reply: httpx.Response) -> bytes:
    """The answer's bytes with the request ids and the latency masked (they differ every time)."""
    return LATENCY.sub(b'"latency_ms":0', ID.sub(b'"request_id":"ID', reply.content))


def without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: without_ids(v) for k, v in value.items() if k not in {"request_id", "latency_ms"}
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def request_ids(reply: httpx.Response) -> list[str]:
    body = reply.json()
    return [p["request_id"] for p in body.get("predictions", [body])]


def test_answers_are_byte_identical_and_the_log_holds_both_predictions(
    tmp_path: Path, challenger_v2: ModelStore
) -> None:
    plan = exchanges(challenger_v2.holdout)  # type: ignore[arg-type]
    off = api_settings(tmp_path / "off", challenger_v2.tracking_uri, shadow_share=0.0)
    with running_api(off) as url:
        wait_for(lambda: "is off" in (shadow_health(url)["idle_reason"] or ""), what="off")
        assert shadow_health(url)["challenger"] is None
        unshadowed = answers(url, plan)
        assert shadow_health(url)["scored"] == 0

    on = api_settings(tmp_path / "on", challenger_v2.tracking_uri, shadow_share=1.0)
    with running_api(on) as url:
        wait_for(lambda: shadow_health(url)["challenger"] == 2, what="v2 in shadow")
        shadowed = answers(url, plan)
        for before, after in zip(unshadowed, shadowed, strict=True):
            assert comparable(after) == comparable(before)
            assert without_ids(after.json()) == without_ids(before.json())
            assert after.headers["content-type"] == before.headers["content-type"]
        ids = [i for reply in shadowed for i in request_ids(reply)]
        assert len(ids) == 25 and len(set(ids)) == 25
        wait_for(lambda: shadow_health(url)["written"] == 25, what="25 shadow rows written")
        scrape = httpx.get(f"{url}/metrics", timeout=10).text

    assert "rakuten_api_shadow_version 2.0" in scrape
    agreed = re.findall(
        r'rakuten_api_shadow_predictions_total\{agreement="\w+"\} ([.0-9]+)', scrape
    )
    assert sum(float(n) for n in agreed) == 25
    engine = make_engine(on.database_url)
    try:
        logged, shadows = wait_for(lambda: both_rows(engine, ids), what="both rows of every id")
    finally:
        engine.dispose()
    assert {r.model_version for r in logged.values()} == {1}
    assert {(r.model_version, r.alias) for r in shadows.values()} == {(2, "challenger")}
    assert all(r.latency_ms > 0 for r in shadows.values())
    # The challenger's row is what v2 itself predicts for the product the log holds.
    store = challenger_v2.store()
    pipeline = store.load_pipeline(store.version_ref(2))
    frame = pd.DataFrame(
        [{"designation": r.designation, "description": r.description} for r in logged.values()]
    )
    expected = dict(zip(logged, pipeline.predict(frame).tolist(), strict=True))
    assert {i: r.predicted_code for i, r in shadows.items()} == expected


def both_rows(engine: Engine, ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    with engine.connect() as conn:
        logged = conn.execute(select(inference_log).where(inference_log.c.request_id.in_(ids)))
        shadows = conn.execute(
            select(shadow_predictions).where(shadow_predictions.c.request_id.in_(ids))
        )
        by_id = {r.request_id: r for r in logged}, {r.request_id: r for r in shadows}
    return by_id if all(len(rows) == len(ids) for rows in by_id) else None


def test_the_running_api_follows_the_challenger_as_it_moves(
    tmp_path: Path, challenger_v2: ModelStore
) -> None:
    store = challenger_v2.store()
    product = {"designation": "Piscine tubulaire ronde 3,66 x 0,76 m"}
    with running_api(api_settings(tmp_path, challenger_v2.tracking_uri)) as url:
        wait_for(lambda: shadow_health(url)["challenger"] == 2, what="v2 in shadow")

        seen = HttpPredictor(url).health()  # as the app reads it
        assert (seen.shadow_version, seen.shadow_share, seen.shadow_idle_reason) == (2, 1.0, None)

        store.set_alias(CHALLENGER, 1)  # the champion's own version: nothing to compare
        health = wait_for(lambda: (h := shadow_health(url))["challenger"] is None and h)
        assert "is the champion" in health["idle_reason"] and health["last_error"] is None
        seen = HttpPredictor(url).health()
        assert seen.shadow_version is None and seen.shadow_idle_reason == health["idle_reason"]
        scored = health["scored"]
        httpx.post(f"{url}/predict", json=product, timeout=10).raise_for_status()

        store.delete_alias(CHALLENGER)
        health = wait_for(lambda: "no challenger" in (shadow_health(url)["idle_reason"] or ""))
        assert shadow_health(url)["scored"] == scored  # the request above was not shadowed

        store.set_alias(CHALLENGER, 2)  # a new challenger, without a restart
        wait_for(lambda: shadow_health(url)["challenger"] == 2, what="v2 in shadow again")
        reply = httpx.post(f"{url}/predict", json=product, timeout=10)
        wait_for(lambda: shadow_health(url)["scored"] == scored + 1, what="one more scored")
        assert reply.json()["model"]["version"] == 1


def test_a_database_refusing_the_shadow_rows_changes_no_answer(
    tmp_path: Path, challenger_v2: ModelStore
) -> None:
    plan = exchanges(challenger_v2.holdout)  # type: ignore[arg-type]
    plan = plan[:2] + plan[-1:]  # two singles and a batch of six
    settings = api_settings(tmp_path, challenger_v2.tracking_uri)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    with running_api(settings) as url:
        wait_for(lambda: shadow_health(url)["challenger"] == 2, what="v2 in shadow")
        before = answers(url, plan)
        wait_for(lambda: shadow_health(url)["written"] == 8, what="rows written")
        with engine.begin() as conn:  # from now on every shadow row is refused
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_shadow BEFORE INSERT ON shadow_predictions "
                    "BEGIN SELECT RAISE(ABORT, 'shadow rows refused'); END"
                )
            )
        after = answers(url, plan)
        health = wait_for(lambda: (h := shadow_health(url))["dropped"]["write_failed"] == 8 and h)
    engine.dispose()
    assert [comparable(r) for r in after] == [comparable(r) for r in before]
    assert health["dropped"]["write_failed"] == 8  # dropped, not retried, not blocking
    assert "cannot write" in health["last_error"] and "shadow rows refused" in health["last_error"]
    assert health["written"] == 8 and health["scored"] == 16
