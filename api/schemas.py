"""Request and response bodies of the API; every limit here is also in the OpenAPI spec."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MAX_DESIGNATION = 1_000  # the challenge's longest title is 250 characters
MAX_DESCRIPTION = 50_000  # and its longest description about 12,500
CLASS_COUNT = 27
# A character that is not whitespace, spelled out as ECMAScript's \s (what JSON Schema validators
# use) rather than Python's (which also counts \x1c-\x1f): the spec and the check agree exactly.
NOT_BLANK = re.compile(
    r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)

Designation = Annotated[str, StringConstraints(max_length=MAX_DESIGNATION)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]


class Product(BaseModel):
    """One product to classify: its title, and its description when there is one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"designation": "Piscine tubulaire ronde 3,66 x 0,76 m", "description": ""}]
    })  # fmt: skip

    designation: Designation = Field(
        description="Product title (required, not blank)",
        json_schema_extra={"pattern": NOT_BLANK.pattern},  # checked below, with a plain message
    )
    description: Description | None = Field(None, description="Product description (HTML allowed)")

    @field_validator("designation")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not NOT_BLANK.search(value):
            raise ValueError("designation is blank: give the product title")
        return value


class PredictRequest(Product):
    """``POST /predict``: one product and how many candidate classes to return."""

    top_k: int = Field(5, ge=1, le=CLASS_COUNT, description="Number of candidate classes")


class BatchRequest(BaseModel):
    """``POST /predict/batch``: several products (at most ``RAKUTEN_API_BATCH_LIMIT``)."""

    model_config = ConfigDict(extra="forbid")

    products: list[Product] = Field(min_length=1, description="The products, in order")
    top_k: int = Field(5, ge=1, le=CLASS_COUNT)


class Problem(BaseModel):
    """Every 4xx and 5xx answer: what is wrong, in one sentence."""

    detail: str


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where: designation, products[3].designation, body, …")
    message: str
    type: str


class InvalidRequest(Problem):
    """422: the request does not match the schema; ``detail`` joins the field problems."""

    errors: list[FieldProblem]


class CategoryRef(BaseModel):
    """A product type: code and English name."""

    code: int
    category: str


class Candidate(CategoryRef):
    """One candidate class and its probability."""

    probability: float


class ModelRef(BaseModel):
    """Which registry version answered."""

    name: str
    version: int


class Prediction(BaseModel):
    """The most probable class and the ``top_k`` candidates of one product."""

    request_id: str = Field(description="Id of this prediction in the inference log")
    code: int
    category: str
    probability: float
    top_k: list[Candidate]


class PredictResponse(Prediction):
    """``POST /predict``."""

    model: ModelRef
    latency_ms: float = Field(description="Time spent in the API, in milliseconds")


class BatchResponse(BaseModel):
    """``POST /predict/batch``: one prediction per product, in the order given."""

    request_id: str
    model: ModelRef
    predictions: list[Prediction]
    latency_ms: float


class ServedModelInfo(BaseModel):
    """The version being served."""

    name: str
    version: int
    alias: str
    run_id: str
    loaded_at: datetime


class Health(BaseModel):
    """``GET /health``: the process is alive; whether (and which) model it serves."""

    status: str = "ok"
    model_loaded: bool
    model: ServedModelInfo | None
    last_error: str | None = Field(description="Why the champion could not be (re)loaded")
    last_check: datetime | None = Field(description="When the champion alias was last checked")
    poll_seconds: float


class ModelDetail(ServedModelInfo):
    """``GET /model``: the served version and the classes it knows."""

    classes: list[CategoryRef] = Field(description="Every class the model can predict")
