"""Limits checked before a request body is parsed: its size, then its shape.

The size is counted by a plain ASGI middleware as the body arrives. The shape is screened by a
route class, on the raw bytes, before FastAPI parses the JSON and pydantic validates it: parsing
and validating run on the event loop, so a body under the size limit but holding millions of
tiny values (``[{}, {}, …]``: 2.7 million products in 8 MB) would stall every other request for
as long as it takes, and build one error per product. The screen stops at the first product past
the batch limit, or the first token past what such a batch can hold, having looked at a few
kilobytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BYTES_PER_PRODUCT = 8 * 1024  # generous: real titles + descriptions average about 800 bytes
# A product is 8 tokens (`{`, two keys, two strings, `,` between them, `}`, `,` after it): twice
# that, plus room for the envelope, leaves any valid batch far inside the budget.
TOKENS_PER_PRODUCT = 16
ENVELOPE_TOKENS = 64
PRODUCTS_KEY = b'"products"'
_TOKEN = re.compile(rb'[\[\]{},"]')
_OBJECT = re.compile(rb"[ \t\r\n]*\{")  # JSON's whitespace, then an object
_STRING_TAIL = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # after an opening quote
_QUOTE, _BACKSLASH, _COMMA, _BRACKET = ord('"'), ord("\\"), ord(","), ord("[")
_OPENERS, _CLOSERS = frozenset(b"[{"), frozenset(b"]}")


def body_limit(batch_limit: int) -> int:
    """Largest body accepted: room for a full batch of typical products, and at least 2 MiB."""
    return max(2 * 1024 * 1024, batch_limit * BYTES_PER_PRODUCT)


def token_limit(batch_limit: int) -> int:
    """Most JSON tokens (strings, brackets, commas) a body may hold: a full batch, with room."""
    return (batch_limit + 1) * TOKENS_PER_PRODUCT + ENVELOPE_TOKENS


def screen_body(body: bytes, *, max_tokens: int, max_products: int | None = None) -> None:
    """Refuse with a 413, before parsing, a body holding more than a full batch can.

    Only structure is looked at: strings are skipped at C speed (``bytes.find``), and numbers,
    literals and whitespace are never visited. Anything malformed is let through for the JSON
    parser to report, with its position.

    Args:
        body: The raw request body.
        max_tokens: Most strings, brackets and commas the body may hold.
        max_products: Most items of the top-level ``products`` array; ``None``: not counted.

    Raises:
        HTTPException: 413, saying which limit the body is over.
    """
    depth, tokens, commas = 0, 0, 0
    top_is_object = _OBJECT.match(body) is not None
    key = b""  # the last string directly inside the top-level object: the key of what follows
    in_products = False
    pos = 0
    while (found := _TOKEN.search(body, pos)) is not None:
        tokens += 1
        if tokens > max_tokens:
            raise HTTPException(
                413,
                f"request body holds more than {max_tokens:,} strings, brackets and commas, "
                "more than any valid request has: send fewer products",
            )
        start, char = found.start(), body[found.start()]
        pos = start + 1
        if char == _QUOTE:
            end = body.find(b'"', pos)
            if end != -1 and body[end - 1] == _BACKSLASH:  # an escape inside: the slow path
                tail = _STRING_TAIL.match(body, pos)
                end = tail.end() - 1 if tail else -1
            if end == -1:
                return  # an unterminated string: the parser says where
            if depth == 1:
                key = body[start : end + 1]
            pos = end + 1
        elif char in _OPENERS:
            depth += 1
            if depth == 2:
                in_products = top_is_object and char == _BRACKET and key == PRODUCTS_KEY
        elif char in _CLOSERS:
            depth -= 1
            in_products = in_products and depth >= 2
        elif in_products and depth == 2 and char == _COMMA:
            commas += 1  # n commas separate n + 1 products
            if max_products is not None and commas >= max_products:
                raise HTTPException(
                    413,
                    f"batch of more than {max_products} products is over the limit of "
                    f"{max_products} (RAKUTEN_API_BATCH_LIMIT): split it",
                )


def screened_route(max_tokens: int, max_products: int | None = None) -> type[APIRoute]:
    """A route class whose JSON body is screened (:func:`screen_body`) before it is parsed."""

    class ScreenedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            if self.body_field is None:
                return handler

            async def screened(request: Request) -> Response:
                # FastAPI reads the same cached bytes afterwards: the body is received once.
                screen_body(await request.body(), max_tokens=max_tokens, max_products=max_products)
                return await handler(request)

            return screened

    return ScreenedRoute


class BodyLimitMiddleware:
    """Answers 413 to a body larger than ``max_bytes``, announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def counting_receive() -> Message:
            # A body sent without Content-Length (chunked) is counted as it arrives; the route's
            # body reading turns this exception into the same 413 answer.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self.message)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def message(self) -> str:
        """What the client is told."""
        return f"request body is over {self.max_bytes:,} bytes: send fewer products"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
