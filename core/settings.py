"""Typed settings for the whole control room, read from ``RAKUTEN_*`` variables and ``.env``.

One object, one prefix: the app, the CLI, the flows and (later) the API all take their URLs, paths
and thresholds from :func:`get_settings`. Nothing here touches the disk or the network: building a
``Settings`` only reads the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

REPO_ROOT = Path(__file__).resolve().parents[1]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, which a container's cpuset narrows)."""
    return len(os.sched_getaffinity(0))


class Settings(BaseSettings):
    """Every tunable of the control room; see ``.env.example`` for one line per variable."""

    model_config = SettingsConfigDict(
        env_prefix="RAKUTEN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # a refused value may be a password: errors never echo it
    )

    mode: Literal["local", "stack"] = Field(
        "local", description="local: supervised processes, SQLite; stack: docker compose"
    )
    compose_project: str = Field(
        "rakuten-control-room",
        description="Docker compose project whose containers the Infrastructure page controls",
    )
    var_dir: Path = Field(REPO_ROOT / "var", description="Runtime files: database, logs, PIDs")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at <var_dir>/control_room.db"
    )
    mlflow_tracking_uri: str = Field("http://127.0.0.1:5000", description="MLflow tracking server")
    prefect_api_url: str = Field("http://127.0.0.1:4200/api", description="Prefect server API")
    api_url: str = Field("http://127.0.0.1:8000", description="Predictor API base URL")
    app_port: int = Field(8501, ge=1, le=65535, description="Port of the Streamlit app")
    app_address: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the app listens on (make run); other than loopback only with an "
        "identity provider in .streamlit/secrets.toml [auth]",
    )
    app_published_address: str = Field(
        "",
        description="Host address people reach the app at when it listens inside a container "
        "(compose publishes its port there); empty: the address it listens on",
    )
    default_role: Literal["viewer", "operator", "admin"] = Field(
        "viewer", description="Role of a signed-in person with no other role assigned"
    )
    role_claim: str = Field(
        "groups",
        description="ID-token claim naming a signed-in person's groups: a group called admin, "
        "operator or viewer gives that role (an assignment on the Access page wins)",
    )
    secrets_file: Path | None = Field(
        None,
        description="The secrets.toml make run hands the app instead of Streamlit's own files "
        "(~/.streamlit/ and .streamlit/); its [auth] section names the identity provider",
    )
    prometheus_url: str = Field(
        "", description="Prometheus server; empty: service health is read from the API itself"
    )
    api_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token of the API's reload endpoint; empty disables the endpoint",
    )
    mlflow_username: str = Field(
        "",
        description="User the app, the API and the flows sign in to MLflow as (its basic-auth "
        "app); make run makes it the admin of a local MLflow when RAKUTEN_MLFLOW_PASSWORD is set",
    )
    mlflow_password: SecretStr = Field(
        SecretStr(""),
        validate_default=True,
        description="Password of RAKUTEN_MLFLOW_USERNAME (12 characters or more, MLflow's rule); "
        "set, make run starts MLflow with its basic-auth app, closed to anyone else",
    )
    prefect_auth_string: SecretStr = Field(
        SecretStr(""),
        description="user:password every Prefect client sends; set, make run starts Prefect "
        "requiring it (PREFECT_SERVER_API_AUTH_STRING)",
    )
    api_poll_seconds: float = Field(
        10.0, ge=0.1, le=3600, description="How often the API checks which version is champion"
    )
    api_batch_limit: int = Field(
        1000, ge=1, le=100_000, description="Most products one batch prediction may hold"
    )
    api_workers: int = Field(
        default_factory=usable_cores,
        ge=1,
        le=64,
        description="Processes `python -m api` serves with (uvicorn workers); empty: one per CPU "
        "core this process may use",
    )
    inference_log_buffer_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        description="Memory the API's inference-log buffer may hold; "
        "past it, predictions spill to <var_dir>/spool",
    )
    inference_log_spool_bytes: int = Field(
        1 << 30,
        ge=1 << 20,
        description="Disk the inference-log spool may take; past it, "
        "predictions that cannot be written are dropped (and counted)",
    )
    inference_log_write_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds an inference-log write may take before it is "
        "abandoned and retried (statement, lock wait, silent connection)",
    )
    shadow_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of predictions the API also scores with the registry's @challenger, "
        "off the request path, for the live comparison (0: no shadow scoring)",
    )
    canary_share: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="Share of live requests the @challenger answers instead of the champion "
        "until someone sets it on the Training page (0: none; promotion or rollback ends it)",
    )
    promotion_needs_live_evidence: bool = Field(
        False,
        description="Promote (through the gate) only when the live comparison also supports it: "
        "at least 30 labelled requests scored by both, the challenger right at least as often",
    )

    challenge_x_path: Path | None = Field(None, description="X_train_update.csv of the challenge")
    challenge_y_path: Path | None = Field(None, description="Y_train_CVw08PX.csv of the challenge")
    synthetic_rows: int = Field(
        84_916, ge=135, le=849_160, description="Size of the built-in synthetic catalogue"
    )
    seed: int = Field(42, description="Seed for the catalogue, the holdout and the load order")

    holdout_fraction: float = Field(
        0.15, gt=0, lt=0.5, description="Share of each class set aside for evaluation at import"
    )
    initial_load_fraction: float = Field(
        0.40, gt=0, le=1, description="Share of the pool loaded by Initialize"
    )
    batch_fraction: float = Field(
        0.03, gt=0, le=1, description="Share of the pool added by each Load next batch"
    )
    drift_share_threshold: float = Field(
        0.30, gt=0, le=1, description="Drift share above which retraining is triggered"
    )
    promotion_margin: float = Field(
        0.0, ge=0, le=1, description="Champion F1 minus this is the bar a candidate must reach"
    )
    retrain_load_next_batch: bool = Field(
        False,
        description="A retrain the monitor flow starts on drift first loads the next data batch "
        "(as Load next batch does); once everything is loaded it just retrains",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, url: str) -> str:
        if not url:
            return url
        if url.startswith("postgres://"):
            raise ValueError("use postgresql:// (or postgresql+psycopg2://), not postgres://")
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {url!r}") from exc
        if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(
                f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
            )
        if parsed.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3: not installed
            return parsed.set(drivername="postgresql+psycopg2").render_as_string(
                hide_password=False
            )
        return url

    @field_validator("api_workers", mode="before")
    @classmethod
    def _empty_workers_means_every_core(cls, workers: object) -> object:
        # Compose passes RAKUTEN_API_WORKERS through as "" when it is not set: the default then.
        return usable_cores() if workers == "" else workers

    @field_validator("mlflow_username")
    @classmethod
    def _username_fits_basic_auth(cls, username: str) -> str:
        if any(c == ":" or c.isspace() or not c.isprintable() for c in username):
            raise ValueError("a user name has no colon, space or control character (basic auth)")
        return username

    @field_validator("mlflow_password")
    @classmethod
    def _mlflow_login_is_whole(cls, password: SecretStr, info: ValidationInfo) -> SecretStr:
        username, secret = info.data.get("mlflow_username"), password.get_secret_value()
        if username is None:  # the user name was refused already
            return password
        if bool(username) != bool(secret):
            raise ValueError(
                "set RAKUTEN_MLFLOW_USERNAME and RAKUTEN_MLFLOW_PASSWORD together, or neither"
            )
        if secret and len(secret) < 12:
            raise ValueError("MLflow's basic-auth app needs a password of 12 characters or more")
        return password

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'control_room.db'}"
        if self.initial_load_bp < 1 or self.batch_bp < 1:
            raise ValueError("load fractions must be at least 0.0001 (0.01 %)")
        return self

    @property
    def database_backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``: the dialect part of the database URL."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    @property
    def initial_load_bp(self) -> int:
        """Initial load share in basis points (1 % = 100), so loading arithmetic stays exact."""
        return round(self.initial_load_fraction * 10_000)

    @property
    def batch_bp(self) -> int:
        """Batch share in basis points."""
        return round(self.batch_fraction * 10_000)


def describe_settings_error(exc: ValidationError) -> str:
    """One line per invalid variable, named as it is set: ``RAKUTEN_DATABASE_URL: …``."""
    lines = []
    for error in exc.errors():
        field = "_".join(str(part) for part in error["loc"]) or "settings"
        name = f"RAKUTEN_{field.upper()}" if field != "settings" else "settings"
        lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
    return "Invalid settings — fix them in the environment or .env, then restart:\n" + "\n".join(
        f"- {line}" for line in lines
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and ``.env``."""
    return Settings()
