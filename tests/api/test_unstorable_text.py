"""Text a database cannot store is refused at the API's door, the same way on SQLite and PostgreSQL.

PostgreSQL refuses a NUL character in text, and no database can encode an unpaired surrogate
(JSON's ``"\\ud800"``) as UTF-8. Answered 200 and then refused by the database, such a title used
to cost the whole batch of other people's rows being written with it.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from core.db.engine import make_engine
from core.inference_log import history
from tests.api.conftest import ModelStore, api_settings

JSON = {"content-type": "application/json"}
GOOD = {"designation": "Piscine tubulaire ronde", "description": "<p>bâche 3,66 m 🏊</p>"}
UNSTORABLE = {
    "NUL in designation": ("/predict", {"designation": "Piscine\u0000ronde"}, "designation"),
    "NUL in description": ("/predict", {**GOOD, "description": "a\u0000"}, "description"),
    "surrogate in designation": ("/predict", {"designation": "Piscine \ud800"}, "designation"),
    "surrogate in description": ("/predict", {**GOOD, "description": "\udc00"}, "description"),
    "NUL in a batch": (
        "/predict/batch",
        {"products": [GOOD, {"designation": "\u0000"}]},
        "products[1].designation",
    ),
    "surrogate in a batch": (
        "/predict/batch",
        {"products": [{**GOOD, "description": "\ud83d"}, GOOD]},
        "products[0].description",
    ),
}


def test_unstorable_text_is_refused_and_every_answered_prediction_is_logged(
    tmp_path: Path, model_store: ModelStore, database_url: str
) -> None:
    settings = api_settings(tmp_path, model_store.tracking_uri, database_url=database_url)
    answered: list[str] = []
    with TestClient(create_app(settings, flush_seconds=0.05)) as client:
        for path, payload, field in UNSTORABLE.values():
            answered.append(client.post("/predict", json=GOOD).json()["request_id"])
            # json.dumps escapes the surrogate as JSON allows; an HTTP client's UTF-8 cannot
            answer = client.post(path, content=json.dumps(payload), headers=JSON)
            assert answer.status_code == 422, (path, payload, answer.text)
            problem = answer.json()["errors"][0]
            assert problem["field"] == field and "remove it" in problem["message"]
            assert "\\u0000" not in answer.text and "Piscine" not in answer.text
        batch = client.post("/predict/batch", json={"products": [GOOD, GOOD]})
        answered += [p["request_id"] for p in batch.json()["predictions"]]
    engine = make_engine(database_url)  # the lifespan has ended: the buffer is flushed
    try:
        with engine.connect() as conn:
            rows = history(conn)
    finally:
        engine.dispose()
    assert sorted(rows.request_id) == sorted(answered)
    assert set(rows.designation) == {GOOD["designation"]}
    assert set(rows.description) == {GOOD["description"]}
