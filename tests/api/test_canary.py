"""The canary share on the real API under uvicorn: the challenger answers its share, each answer
says which version and alias produced it, the champion scores those requests in shadow, and a
change of share applies at the reload that follows it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

from core.access import Actor
from core.db.engine import ensure_schema, make_engine
from core.db.tables import inference_log, shadow_predictions
from core.shadow.canary import set_canary_share
from tests.api.conftest import TOKEN, ModelStore, api_settings, running_api
from tests.api.test_shadow import wait_for

ADMIN = Actor.local_admin()
PRODUCT = {"designation": "Piscine tubulaire ronde 3,66 x 0,76 m", "description": "bleu"}


def served(url: str, count: int) -> tuple[Counter[tuple[int, str]], list[str]]:
    """(version, alias) of ``count`` answers, one product each, then a batch; and their ids."""
    seen: Counter[tuple[int, str]] = Counter()
    ids = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            body = client.post("/predict", json=PRODUCT).json()
            seen[(body["model"]["version"], body["model"]["alias"])] += 1
            ids.append(body["request_id"])
    return seen, ids


def reload(url: str) -> None:
    answer = httpx.post(
        f"{url}/model/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text


def test_the_challenger_answers_its_share_and_the_champion_shadows_it(
    tmp_path: Path, challenger_v2: ModelStore
) -> None:
    settings = api_settings(tmp_path, challenger_v2.tracking_uri)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    with running_api(settings) as url:
        wait_for(lambda: httpx.get(f"{url}/health").json()["shadow"]["challenger"] == 2)
        before, _ = served(url, 20)
        assert before == Counter({(1, "champion"): 20})  # no canary yet

        set_canary_share(engine, 0.5, ADMIN)  # as the Training page does, then the reload
        reload(url)
        during, ids = served(url, 200)
        assert set(during) == {(1, "champion"), (2, "challenger")}
        assert 60 <= during[(2, "challenger")] <= 140  # 50 % of 200, far from the edges
        batch = httpx.post(f"{url}/predict/batch", json={"products": [PRODUCT] * 3}).json()
        assert batch["model"]["alias"] in {"champion", "challenger"}

        def logged() -> list:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        inference_log.c.request_id,
                        inference_log.c.model_version,
                        inference_log.c.served_alias,
                        shadow_predictions.c.model_version,
                        shadow_predictions.c.alias,
                    )
                    .join(
                        shadow_predictions,
                        shadow_predictions.c.request_id == inference_log.c.request_id,
                    )
                    .where(inference_log.c.request_id.in_(ids))
                ).all()
            return list(rows) if len(rows) == len(ids) else []

        rows = wait_for(logged, what="both predictions of every canary-period request")
        pairs = Counter((r[1], r[2], r[3], r[4]) for r in rows)
        # Each answer logged with the alias that gave it, the other model beside it in shadow.
        assert set(pairs) == {(1, "champion", 2, "challenger"), (2, "challenger", 1, "champion")}
        assert pairs[(2, "challenger", 1, "champion")] == during[(2, "challenger")]

        set_canary_share(engine, 0.0, ADMIN)
        reload(url)
        after, _ = served(url, 30)
        assert after == Counter({(1, "champion"): 30})  # off at once
    engine.dispose()
