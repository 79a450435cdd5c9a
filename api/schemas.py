"""Request and response bodies of the API; every limit here is also in the OpenAPI spec."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from api.explanation import ExplanationOut
from core.data.limits import MAX_DESCRIPTION, MAX_DESIGNATION

CLASS_COUNT = 27
# A character that is not whitespace, spelled out as ECMAScript's \s (what JSON Schema validators
# use) rather than Python's (which also counts \x1c-\x1f): the spec and the check agree exactly.
BLANKS = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = re.compile(f"[^{BLANKS}]")
# What no database can store: PostgreSQL refuses NUL in text, and an unpaired surrogate (JSON's
# "\ud800" alone) has no UTF-8 encoding at all. Parsed JSON joins every valid pair into one
# character, so any surrogate left in a string is unpaired. Refused here, on every database alike.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The spec says "no NUL" (and, for a title, "something not blank"). It cannot say "no unpaired
# surrogate": an ECMAScript pattern sees UTF-16 code units, where every emoji is a pair.
NO_NUL = r"^[^\x00]*$"
TITLE = rf"^[^\x00]*[^\x00{BLANKS}][^\x00]*$"


def _storable(value: object) -> object:
    """Refuse text a database cannot store, naming the character by its position, not the text."""
    # Before pydantic's own check, whose word for a surrogate is "unable to parse raw data".
    found = UNSTORABLE.search(value) if isinstance(value, str) else None
    if found is None:
        return value
    at = found.start() + 1
    if found.group() == "\x00":
        raise ValueError(f"NUL character (U+0000) at character {at} cannot be stored: remove it")
    raise ValueError(
        f"unpaired surrogate (U+{ord(found.group()):04X}) at character {at} is not valid "
        "Unicode text: remove it"
    )


Designation = Annotated[
    str, StringConstraints(max_length=MAX_DESIGNATION), BeforeValidator(_storable)
]
Description = Annotated[
    str,
    StringConstraints(max_length=MAX_DESCRIPTION),
    BeforeValidator(_storable),
    Field(json_schema_extra={"pattern": NO_NUL}),
]


def _number(value: object) -> object:
    # Lax pydantic reads `true` as 1 and "5" as 5; strict mode would also refuse 5.0, which JSON
    # Schema (the spec) calls an integer. So refuse exactly what is not a JSON number.
    if isinstance(value, bool | str):
        raise PydanticCustomError(
            "int_type", "Input should be a valid integer, not text or a boolean"
        )
    return value


TopK = Annotated[
    int,
    Field(ge=1, le=CLASS_COUNT, description="Number of candidate classes"),
    BeforeValidator(_number),  # after the constraints, or the spec loses them
]


class Product(BaseModel):
    """One product to classify: its title, and its description when there is one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"designation": "Piscine tubulaire ronde 3,66 x 0,76 m", "description": ""}
            ]
        },
    )

    designation: Designation = Field(
        description="Product title (required, not blank, no NUL or unpaired surrogate)",
        json_schema_extra={"pattern": TITLE},  # checked below and above, with plain messages
    )
    description: Description | None = Field(
        None, description="Product description (HTML allowed; no NUL or unpaired surrogate)"
    )

    @field_validator("designation")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not NOT_BLANK.search(value):
            raise ValueError("designation is blank: give the product title")
        return value


class PredictRequest(Product):
    """``POST /predict``: one product and how many candidate classes to return."""

    top_k: TopK = 5
    explain: bool = Field(
        False, description="Also say why: the terms that pushed the predicted class's score most"
    )


class BatchRequest(BaseModel):
    """``POST /predict/batch``: several products (at most ``RAKUTEN_API_BATCH_LIMIT``)."""

    model_config = ConfigDict(extra="forbid")

    products: list[Product] = Field(min_length=1, description="The products, in order")
    top_k: TopK = 5


# Every name a request body may use: an error's location shows these, never the client's own.
FIELD_NAMES = frozenset({*PredictRequest.model_fields, *BatchRequest.model_fields})


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
    """Which registry version answered, and as which alias (challenger: a canary answer)."""

    name: str
    version: int
    alias: Literal["champion", "challenger"] = "champion"


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
    explanation: ExplanationOut | None = Field(
        None, description="With explain: the evidence for the predicted class and the runner-up"
    )


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


class InferenceLogHealth(BaseModel):
    """Whether predictions reach the inference log, and what was kept or lost on the way."""

    state: Literal["ok", "retrying", "failing"] = Field(
        description="ok: writes go through; retrying: the last write failed and is retried "
        "with back-off; failing: writes have failed for a while, queued rows go to the spool file"
    )
    failing_since: datetime | None = Field(description="When the current run of failures began")
    last_write: datetime | None = Field(description="When rows were last written")
    last_error: str | None = Field(description="Why the last write failed (while not ok)")
    queue_rows: int = Field(description="Predictions in memory, waiting to be written")
    queue_bytes: int = Field(description="Memory they hold (bounded; past it they spill)")
    spool_bytes: int = Field(description="Size of the spool files waiting to be replayed")
    retries: int = Field(description="Failed writes retried since the API started")
    spooled_rows: int = Field(description="Predictions spilled to the spool since the start")
    dropped: dict[str, int] = Field(
        description="Predictions that will never be written, by reason, since the start"
    )


class ShadowHealth(BaseModel):
    """The challenger scored in shadow: which version, how much, and what was lost."""

    challenger: int | None = Field(
        description="Challenger version scored in shadow; null: none (idle_reason says why)"
    )
    share: float = Field(description="Share of predictions scored in shadow (RAKUTEN_SHADOW_SHARE)")
    queued: int = Field(description="Predictions waiting to be scored by the challenger (bounded)")
    scored: int = Field(description="Predictions the challenger scored since the start")
    written: int = Field(description="Shadow predictions written to shadow_predictions")
    dropped: dict[str, int] = Field(
        description="Sampled predictions never written, by reason (queue_full, write_failed, …)"
    )
    last_error: str | None = Field(
        description="The last failure: loading the challenger, scoring or writing"
    )
    idle_reason: str | None = Field(
        None, description="Why no challenger is in shadow (no @challenger, it is the champion…)"
    )


class Health(BaseModel):
    """``GET /health``: the process is alive; whether (and which) model it serves."""

    status: str = "ok"
    model_loaded: bool
    model: ServedModelInfo | None
    last_error: str | None = Field(description="Why the champion could not be (re)loaded")
    last_check: datetime | None = Field(description="When the champion alias was last checked")
    registry_unreachable_since: datetime | None = Field(
        None,
        description="When the current run of failed checks of the registry (MLflow) began; "
        "null while it answers",
    )
    serving_local_copy: bool = Field(
        False,
        description="The model served was read from the local copy of the last champion "
        "because the registry could not be reached at start; false again once it answers",
    )
    poll_seconds: float
    inference_log: InferenceLogHealth
    shadow: ShadowHealth | None = Field(
        None, description="The challenger scored in shadow (absent from older APIs)"
    )


class ModelDetail(ServedModelInfo):
    """``GET /model``: the served version and the classes it knows."""

    classes: list[CategoryRef] = Field(description="Every class the model can predict")
