"""No secret reaches the audit trail: not as a parameter named like one, not inside a value, a
target or the message of a failed action."""

from __future__ import annotations

import pytest

from core.access import Action, Actor, AuditEntry, AuditLog, Role, audited
from core.access.audit import params_json, safe_params, scrub

ADMIN = Actor("adam", "oidc", Role.ADMIN)
SECRET = "s3cr3t-VALUE-42"


class Recorded(AuditLog):
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWD",
        "pwd",
        "secret",
        "client_secret",
        "cookie_secret",
        "token",
        "api_token",
        "RAKUTEN_API_TOKEN",
        "access_token",
        "id_token",
        "refresh_token",
        "auth_string",
        "PREFECT_API_AUTH_STRING",
        "Authorization",
        "api_key",
        "apikey",
        "private_key",
        "credentials",
        "session_id",
        "cookie",
        "bearer",
        "jwt",
    ],
)
def test_a_parameter_named_like_a_credential_is_dropped(key: str) -> None:
    params = {"version": 3, key: SECRET, "nested": {key: SECRET, "c": 1.0}}
    assert safe_params(params) == {"version": 3, "nested": {"c": 1.0}}
    assert SECRET not in params_json(params)


def test_credentials_inside_lists_are_dropped_too() -> None:
    params = {"runs": [{"id": 1, "password": SECRET}, ("a", {"token": SECRET})]}
    assert safe_params(params) == {"runs": [{"id": 1}, ["a", {}]]}


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            f"postgresql+psycopg2://rakuten:{SECRET}@db:5432/rakuten",
            "postgresql+psycopg2://rakuten:***@db",
        ),
        (f"http://mlflow:{SECRET}@127.0.0.1:5000/api", "http://mlflow:***@127.0.0.1:5000/api"),
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer ***"),
        (f"Authorization: Basic {SECRET}", "Authorization: Basic ***"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),  # user:pass
        (f"password={SECRET} user=ana", "password=*** user=ana"),
        (f"MLFLOW_TRACKING_PASSWORD={SECRET}", "MLFLOW_TRACKING_PASSWORD=***"),
        (f"auth_string: {SECRET}", "auth_string: ***"),
        (f"http://api/reload?token={SECRET}&v=2", "http://api/reload?token=***&v=2"),
    ],
)
def test_credentials_inside_text_are_hidden(text: str, kept: str) -> None:
    assert SECRET not in scrub(text) and "dXNlcjpwYXNz" not in scrub(text) and kept in scrub(text)
    assert SECRET not in params_json({"url": text})


@pytest.mark.parametrize(
    "text",
    [
        "needs the admin role",
        "No RAKUTEN_API_TOKEN is set: the API picks the champion up at its next check",
        "Database not reachable at postgresql+psycopg2://rakuten:***@db:5432/rakuten",
        "http://127.0.0.1:5000/#/models",
        "promote v3: candidate 0.81 ≥ champion 0.80",
        "Basic authentication failed: the token expired",
        "MLflow refused the control room's credentials (RAKUTEN_MLFLOW_USERNAME)",
    ],
)
def test_ordinary_text_is_kept_as_it_is(text: str) -> None:
    assert scrub(text) == text


def test_a_failed_actions_message_and_target_are_scrubbed() -> None:
    audit = Recorded()
    with (
        pytest.raises(RuntimeError),
        audited(audit, ADMIN, Action.RESET, target=f"postgresql://u:{SECRET}@db/x"),
    ):
        raise RuntimeError(f"could not connect to postgresql://u:{SECRET}@db/x (password={SECRET})")
    (entry,) = audit.entries
    assert entry.outcome == "failed"
    assert SECRET not in entry.message and SECRET not in entry.target
    assert "postgresql://u:***@db/x" in entry.message
