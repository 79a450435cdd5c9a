"""SQLAlchemy 2 Core tables, identical on SQLite and PostgreSQL.

The data lifecycle lives in five tables:

- ``dataset``: one row describing the imported source; its ``revision`` is bumped by every write,
  which serialises concurrent loads (the ``UPDATE`` takes the write lock on both backends) and
  gives readers a cheap cache key.
- ``source_pool``: the products that can be loaded, each with its rank inside its class, so that
  "the first p % of the pool" is an exact, stratified, integer-only predicate.
- ``holdout_products``: the fixed stratified evaluation set, set aside at import.
- ``loaded_products``: what training sees; ``productid`` is the primary key, so no product can be
  loaded twice whatever the callers do.
- ``load_history``: one row per initialize / next batch / reset.

the model lifecycle keeps ``promotion_log``: MLflow aliases have no history, so every
promotion and rollback of the champion is written here; and serving keeps ``inference_log``
(every prediction the API made, written off the request path) with ``prediction_feedback`` (the
true category a person marked for a prediction, by request id, and who marked it).

Who may do what keeps ``audit_log`` (every state-changing action: done, refused or failed, and who
took it) and ``role_assignments`` (the role an admin gave a person, by subject or email).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

dataset = Table(
    "dataset",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("pool_rows", Integer, nullable=False),
    Column("holdout_rows", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=0),
)


def _product_columns() -> list[Column]:
    return [
        Column("imageid", BigInteger, nullable=False),
        Column("designation", Text, nullable=False),
        Column("description", Text, nullable=False),
        Column("prdtypecode", Integer, nullable=False),
    ]


source_pool = Table(
    "source_pool",
    metadata,
    Column("productid", BigInteger, primary_key=True, autoincrement=False),
    *_product_columns(),
    Column("class_rank", Integer, nullable=False),
    Column("class_size", Integer, nullable=False),
)

holdout_products = Table(
    "holdout_products",
    metadata,
    Column("productid", BigInteger, primary_key=True, autoincrement=False),
    *_product_columns(),
)

load_history = Table(
    "load_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("action", String(20), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("cumulative_rows", Integer, nullable=False),
    Column("target_bp", Integer, nullable=False),
    Column("triggered_by", String(100), nullable=False),
)

loaded_products = Table(
    "loaded_products",
    metadata,
    Column("productid", BigInteger, primary_key=True, autoincrement=False),
    *_product_columns(),
    Column("load_id", Integer, ForeignKey("load_history.id"), nullable=False),
)

promotion_log = Table(
    "promotion_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(20), nullable=False),  # promote | force | rollback
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=False),
    Column("triggered_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("candidate_f1", Float, nullable=True),
    Column("champion_f1", Float, nullable=True),
)

inference_log = Table(
    "inference_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("designation", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("predicted_code", Integer, nullable=False),
    Column("probability", Float, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("source", String(20), nullable=False),  # predict | batch
    # Which alias answered: NULL or "champion" (every row before canary serving), "challenger"
    # when the canary share sent the request to the challenger.
    Column("served_alias", String(20), nullable=True),
)

# The other model's prediction of a logged request, scored off the request path: the challenger's
# while the champion answers (shadow), the champion's while a canary request is answered by the
# challenger. Keyed by the request id of the inference_log row it sits beside; written on a best
# effort (evidence, not the record of what was answered).
shadow_predictions = Table(
    "shadow_predictions",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("alias", String(20), nullable=False),  # challenger | champion
    Column("predicted_code", Integer, nullable=False),
    Column("probability", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
)

# Serving choices made from the app and read by every API worker at each check of the aliases
# (the canary share): one row per key, the last writer wins.
serving_settings = Table(
    "serving_settings",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
)

# A separate table, not a column of inference_log: feedback may arrive before the API's buffered
# write of the prediction itself, and marking again simply replaces the row.
prediction_feedback = Table(
    "prediction_feedback",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("true_code", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # Who marked it (added after the table shipped: empty on older rows).
    Column("actor", String(200), nullable=True),  # subject
    Column("actor_email", String(200), nullable=True),
)

# One row per drift check; the Evidently report itself is an HTML file under <var_dir>/drift/.
drift_runs = Table(
    "drift_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("reference_rows", Integer, nullable=False),
    Column("current_rows", Integer, nullable=False),
    Column("drift_share", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("verdict", String(20), nullable=False),  # drift | no drift
    Column("drifted_columns", Text, nullable=False),  # comma-separated
    Column("champion_version", Integer, nullable=True),
    Column("report_file", String(200), nullable=False),  # relative to <var_dir>/drift/
    Column("triggered_by", String(100), nullable=False),
    Column("decision", Text, nullable=False, default=""),  # what the monitor flow did about it
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("email", String(200), nullable=True),
    Column("role", String(20), nullable=False),
    Column("via", String(20), nullable=False),  # local | oidc | cli | schedule | flow
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("parameters", Text, nullable=False, default="{}"),  # JSON, no secrets, truncated
    Column("outcome", String(10), nullable=False),  # done | refused | failed
    Column("message", Text, nullable=False, default=""),
)

# One row per person: ``principal`` is the identity provider's subject or an email (lower case).
role_assignments = Table(
    "role_assignments",
    metadata,
    Column("principal", String(200), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("assigned_by", String(100), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)

# Columns added to a table after it shipped: ``metadata.create_all`` keeps an existing table as it
# is, so :func:`core.db.engine.ensure_schema` adds these to an older database when they are missing.
# Only nullable columns belong here (older rows have no value).
ADDED_COLUMNS: tuple[Column, ...] = (
    prediction_feedback.c.actor,
    prediction_feedback.c.actor_email,
    inference_log.c.served_alias,
)

Index("ix_audit_log_at", audit_log.c.at)
Index("ix_inference_log_at", inference_log.c.at)
Index("ix_shadow_predictions_at", shadow_predictions.c.at)
Index("ix_loaded_products_prdtypecode", loaded_products.c.prdtypecode)
Index("ix_source_pool_prdtypecode", source_pool.c.prdtypecode)

PRODUCT_FIELDS: tuple[str, ...] = (
    "productid",
    "imageid",
    "designation",
    "description",
    "prdtypecode",
)
