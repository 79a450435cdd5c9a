"""The screen that looks at a body's shape before it is parsed: what it counts, what it lets by."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from starlette.exceptions import HTTPException

from api.limits import screen_body, token_limit

LIMIT = 1_000
HTML = '<p class="x">Lot de 2, [neuf] {promo}: 10\\" écran, "quotes" \\\\</p>'


def batch(products: object, **extra: object) -> bytes:
    return json.dumps({"products": products, **extra}, ensure_ascii=False).encode()


def screen(body: bytes) -> str | None:
    """The 413's detail, or ``None`` when the body is let through to the parser."""
    try:
        screen_body(body, max_tokens=token_limit(LIMIT), max_products=LIMIT)
    except HTTPException as exc:
        assert exc.status_code == 413
        return str(exc.detail)
    return None


FULL = [{"designation": f'Titre, [{i}] "{{x}}"', "description": HTML * 20} for i in range(LIMIT)]
LET_THROUGH: dict[str, bytes] = {
    "a full batch, brackets, commas and escaped quotes inside the text": batch(FULL, top_k=3),
    "the same with whitespace everywhere": json.dumps({"products": FULL}, indent=4).encode(),
    "a 'products' key nested deeper is not the batch": json.dumps(
        {"products": [{"designation": "a", "products": list(range(LIMIT * 2))}]}
    ).encode(),
    "'products' as a value is not the key": json.dumps(
        {"top_k": "products", "x": [1] * (LIMIT * 2), "products": [{}]}
    ).encode(),
    "a top-level array": json.dumps(["products", [1] * (LIMIT * 2)]).encode(),
    "an unterminated string: the parser says where": b'{"products": [{"designation": "a, b, c',
    "not JSON at all": b"\xff\xfe products [1,2,3",
    "an empty body": b"",
}
# Built when the test runs, not when the suite is collected: some are megabytes.
REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "one product too many": (lambda: batch([{}] * (LIMIT + 1)), "more than 1000 products"),
    "2.7 million empty products": (
        lambda: b'{"products": [' + b",".join([b"{}"] * 2_700_000) + b"]}",
        "more than 1000 products",
    ),
    "millions of values inside one product": (
        lambda: b'{"products": [{"designation": [' + b"[]," * 2_000_000 + b"[]]}]}",
        "strings, brackets and commas",
    ),
    "millions of strings": (lambda: b'{"x": "' + b'", "' * 2_000_000 + b'"}', "strings, brackets"),
    "millions of closing brackets": (lambda: b"]" * 2_000_000, "strings, brackets and commas"),
}


@pytest.mark.parametrize("case", LET_THROUGH)
def test_what_the_screen_lets_through_to_the_parser(case: str) -> None:
    assert screen(LET_THROUGH[case]) is None


@pytest.mark.parametrize("case", REFUSED)
def test_what_the_screen_refuses_it_refuses_at_once(case: str) -> None:
    build, words = REFUSED[case]
    raw = build()
    start = time.perf_counter()
    detail = screen(raw)
    assert time.perf_counter() - start < 0.05  # it stopped early: a few kilobytes looked at
    assert detail is not None and words in detail


def test_a_full_batch_of_long_descriptions_is_screened_quickly() -> None:
    raw = batch(FULL)  # ≈ 3 MB of text with escapes: the slow path of the string skipping
    start = time.perf_counter()
    assert screen(raw) is None
    assert time.perf_counter() - start < 0.25
