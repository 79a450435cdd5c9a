"""Bad input never yields a 5xx: each gets a 4xx naming the problem; a schema-driven fuzz agrees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema
from schemathesis.python.asgi import shutdown_lifespans

from api.main import create_app
from tests.api.conftest import ModelStore, api_settings

MEGABYTE = "x" * 1_000_000
JSON = {"content-type": "application/json"}


def body(value: object) -> bytes:
    return json.dumps(value).encode()


ONE, MANY = "/predict", "/predict/batch"
A = {"designation": "a"}
# what is wrong: (endpoint, raw body, expected status, words the message must contain)
BAD: dict[str, tuple[str, bytes, int, str]] = {
    "empty designation": (ONE, body({"designation": ""}), 422, "designation"),
    "blank designation": (ONE, body({"designation": " \t\n "}), 422, "designation is blank"),
    "missing designation": (ONE, body({"description": "x"}), 422, "designation: Field required"),
    "designation not a string": (
        ONE,
        body({"designation": 42}),
        422,
        "designation: Input should be a valid string",
    ),
    "description not a string": (ONE, body({**A, "description": ["b"]}), 422, "description"),
    "top_k not an int": (ONE, body({**A, "top_k": "five"}), 422, "top_k"),
    "top_k too big": (ONE, body({**A, "top_k": 28}), 422, "top_k"),
    "unknown field": (ONE, body({**A, "designaton": "b"}), 422, "unknown field"),
    "top_k true": (ONE, body({**A, "top_k": True}), 422, "top_k: Input should be a valid int"),
    "top_k as text": (ONE, body({**A, "top_k": "5"}), 422, "top_k: Input should be a valid int"),
    "batch top_k true": (MANY, body({"products": [A], "top_k": True}), 422, "top_k"),
    "batch top_k as text": (MANY, body({"products": [A], "top_k": "5"}), 422, "top_k"),
    "NUL in designation": (ONE, body({"designation": "a\u0000b"}), 422, "designation: NUL"),
    "NUL in description": (ONE, body({**A, "description": "\u0000"}), 422, "description: NUL"),
    "lone surrogate in designation": (
        ONE,
        body({"designation": "a\ud800"}),
        422,
        "designation: unpaired surrogate",
    ),
    "lone surrogate in description": (
        ONE,
        body({**A, "description": "\udfff b"}),
        422,
        "description: unpaired surrogate",
    ),
    "NUL in a batch": (
        MANY,
        body({"products": [A, {"designation": "\u0000"}]}),
        422,
        "products[1].designation",
    ),
    "lone surrogate in a batch": (
        MANY,
        body({"products": [{**A, "description": "\ud83d"}]}),
        422,
        "products[0].description: unpaired surrogate",
    ),
    "1 MB designation": (
        ONE,
        body({"designation": MEGABYTE}),
        422,
        "designation: String should have at most 1000",
    ),
    "1 MB description": (
        ONE,
        body({**A, "description": MEGABYTE}),
        422,
        "description: String should have at most",
    ),
    "invalid JSON": (ONE, b'{"designation": "a",', 422, "not valid UTF-8 JSON"),
    "non-UTF-8 bytes": (ONE, b'{"designation": "\xff\xfe caf\xe9"}', 400, "UTF-8 encoded JSON"),
    "a JSON list": (ONE, body(["designation"]), 422, "valid dictionary"),
    "empty body": (ONE, b"", 422, "Field required"),
    "oversized batch": (MANY, body({"products": [A] * 51}), 413, "over the limit of 50"),
    "empty batch": (MANY, body({"products": []}), 422, "products"),
    "bad item in a batch": (
        MANY,
        body({"products": [A, {"designation": ""}]}),
        422,
        "products[1].designation",
    ),
    "2 MB of {} in a batch": (
        MANY,
        b'{"products": [' + b",".join([b"{}"] * 690_000) + b"]}",
        413,
        "over the limit of 50",
    ),
    "a million values in one title": (
        ONE,
        b'{"designation": [' + b"[]," * 300_000 + b"[]]}",
        413,
        "brackets and commas",
    ),
    "huge body": (
        MANY,
        body({"products": [{"designation": "a" * 900}] * 3000}),
        413,
        "body is over",
    ),
}


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory, model_store) -> Iterator[TestClient]:
    """One API for the module, its lifespan running (so the champion is loaded)."""
    tmp = tmp_path_factory.mktemp("bad-input")
    with TestClient(create_app(api_settings(tmp, model_store.tracking_uri))) as client:
        yield client


@pytest.mark.parametrize("problem", BAD)
def test_bad_input_gets_a_4xx_naming_the_problem(live_app: TestClient, problem: str) -> None:
    path, raw, status, words = BAD[problem]
    answer = live_app.post(path, content=raw, headers=JSON)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    assert len(answer.content) < 10_000  # the input is never echoed back


ECHO = "<script>alert(1)</script>"
# Bodies whose field names (not only values) carry text the answer must never repeat.
ECHOED: dict[str, tuple[str, bytes]] = {
    "unknown field": (ONE, body({**A, ECHO: "b"})),
    "unknown field in a batch item": (MANY, body({"products": [A, {**A, ECHO: 1}]})),
    "unknown top-level field of a batch": (MANY, body({"products": [A], ECHO: 1})),
    "unknown field in a nested object": (ONE, body({"designation": {ECHO: ECHO}})),
    "1 MB field name": (ONE, body({**A, ECHO + MEGABYTE: 1})),
}


@pytest.mark.parametrize("problem", ECHOED)
def test_no_input_is_echoed_not_even_a_field_name(live_app: TestClient, problem: str) -> None:
    path, raw = ECHOED[problem]
    answer = live_app.post(path, content=raw, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "<script>" not in answer.text and "alert" not in answer.text
    assert len(answer.content) < 2_000


def test_unknown_fields_are_named_by_position(live_app: TestClient) -> None:
    raw = body({"products": [A, {**A, "x": 1, ECHO: 2}]})
    answer = live_app.post("/predict/batch", content=raw, headers=JSON).json()
    assert [(e["field"], e["type"]) for e in answer["errors"]] == [
        ("products[1]", "extra_forbidden"),
        ("products[1]", "extra_forbidden"),
    ]
    assert "unknown field (key 2 of the object)" in answer["detail"]
    assert "unknown field (key 3 of the object)" in answer["detail"]


def test_at_most_ten_problems_are_listed_then_how_many_more(live_app: TestClient) -> None:
    answer = live_app.post("/predict/batch", content=body({"products": [{}] * 50}), headers=JSON)
    assert answer.status_code == 422
    problems = answer.json()
    assert [e["field"] for e in problems["errors"]] == [
        f"products[{i}].designation" for i in range(10)
    ]
    assert problems["detail"].endswith("… and 40 more problems")


def test_a_streamed_body_is_cut_off_at_the_limit_too(live_app: TestClient) -> None:
    chunk = b" " * 1024 * 1024  # no Content-Length: the size is counted as the body arrives

    answer = live_app.post("/predict/batch", content=iter([chunk] * 12), headers=JSON)
    assert answer.status_code == 413 and "body is over" in answer.json()["detail"]


def test_bad_input_by_wrong_method_or_route(live_app: TestClient) -> None:
    assert live_app.get("/predict").status_code == 405
    assert (
        live_app.post(
            "/predict",
            content=b"designation=a",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).status_code
        == 422
    )


def test_fuzz_the_openapi_spec_finds_no_server_error(
    tmp_path: Path, model_store: ModelStore
) -> None:
    """Schemathesis generates requests from the API's own OpenAPI spec, valid and invalid alike,
    and checks every answer: no 5xx, and status codes, content types and bodies as documented.

    Schemathesis runs the app's lifespan itself (the champion loads), so the app is its own."""
    app = create_app(api_settings(tmp_path, model_store.tracking_uri))
    try:
        _fuzz(schemathesis.openapi.from_asgi("/openapi.json", app))
    finally:
        shutdown_lifespans()


def _fuzz(spec: BaseSchema) -> None:
    operations = [result.ok() for result in spec.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /predict", "POST /predict/batch"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        check()
