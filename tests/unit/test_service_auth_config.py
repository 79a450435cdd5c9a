"""Local mode's locks on MLflow and Prefect: what the service specs carry when the service
credentials are set (and nothing when they are not), how MLflow reads the config, the settings'
checks, and the adapters' words for a refusal. The servers themselves: tests/integration."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.access.service_auth import write_basic_auth_config
from core.adapters.flows import PrefectRest
from core.adapters.mlflow_http import refusal, use_credentials
from core.local_stack import local_services
from core.settings import Settings, describe_settings_error
from core.supervisor import ServiceSpec

PASSWORD = "mlflow-password-123"
AUTH_STRING = "control-room:prefect-secret-456"
AUTH_KEYS = {
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "PREFECT_SERVER_API_AUTH_STRING",
    "PREFECT_API_AUTH_STRING",
}


def specs(settings: Settings) -> dict[str, ServiceSpec]:
    return {s.name: s for s in local_services(settings)}


def closed_settings(var: Path) -> Settings:
    return Settings(
        _env_file=None,  # a developer's .env must not change what is tested
        var_dir=var,
        mlflow_username="control-room",
        mlflow_password=SecretStr(PASSWORD),
        prefect_auth_string=SecretStr(AUTH_STRING),
    )


def test_with_the_credentials_set_mlflow_and_prefect_start_closed(tmp_path: Path) -> None:
    found = specs(closed_settings(tmp_path))
    mlflow, prefect, worker = found["mlflow"], found["prefect"], found["worker"]
    assert mlflow.command[-2:] == ["--app-name", "basic-auth"]
    assert mlflow.env["MLFLOW_AUTH_ADMIN_PASSWORD"] == PASSWORD
    config = Path(mlflow.env["MLFLOW_AUTH_CONFIG_PATH"])
    assert config == tmp_path / "mlflow" / "basic_auth.ini"
    assert config.stat().st_mode & 0o077 == 0  # the owner's only
    key = mlflow.env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert len(key) >= 24 and (tmp_path / "run" / "mlflow-flask.key").stat().st_mode & 0o077 == 0
    assert specs(closed_settings(tmp_path))["mlflow"].env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == key
    assert prefect.env["PREFECT_SERVER_API_AUTH_STRING"] == AUTH_STRING
    assert worker.env["PREFECT_API_AUTH_STRING"] == AUTH_STRING  # the flows' Prefect client
    # Each secret goes to the process that needs it; the app and the API read the settings.
    for spec in (found["api"], found["app"], worker):
        assert not {k for k in AUTH_KEYS - {"PREFECT_API_AUTH_STRING"} if k in spec.env}
    assert "PREFECT_API_AUTH_STRING" not in prefect.env | found["api"].env | found["app"].env
    # Never on a command line: `ps` shows those to every user of the machine.
    for spec in found.values():
        command = " ".join(spec.command)
        assert PASSWORD not in command and AUTH_STRING not in command and key not in command


def test_without_them_nothing_changes(tmp_path: Path) -> None:
    found = specs(Settings(_env_file=None, var_dir=tmp_path))
    assert "--app-name" not in found["mlflow"].command
    assert not {k for spec in found.values() for k in spec.env} & AUTH_KEYS
    assert not (tmp_path / "mlflow" / "basic_auth.ini").exists()
    assert not (tmp_path / "run" / "mlflow-flask.key").exists()


def test_mlflow_reads_the_config_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.server.auth.config import read_auth_config

    spec = specs(closed_settings(tmp_path))["mlflow"]
    for name, value in spec.env.items():
        monkeypatch.setenv(name, value)
    config = read_auth_config()
    assert config.default_permission == "NO_PERMISSIONS"  # anonymous and unknown users: nothing
    assert (config.admin_username, config.admin_password) == ("control-room", PASSWORD)
    assert config.database_uri == f"sqlite:///{tmp_path / 'mlflow' / 'basic_auth.db'}"
    assert config.auth_cache_ttl_seconds > 0  # a password hash is checked once, not per request
    assert PASSWORD not in Path(spec.env["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    odd = write_basic_auth_config(tmp_path / "odd", "100%-svc")  # configparser interpolates %
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(odd))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD")
    assert read_auth_config().admin_username == "100%-svc"


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        (
            {"RAKUTEN_MLFLOW_USERNAME": "svc"},
            "RAKUTEN_MLFLOW_PASSWORD: set RAKUTEN_MLFLOW_USERNAME",
        ),
        ({"RAKUTEN_MLFLOW_PASSWORD": PASSWORD}, "together, or neither"),
        (
            {"RAKUTEN_MLFLOW_USERNAME": "svc", "RAKUTEN_MLFLOW_PASSWORD": "short-one"},
            "RAKUTEN_MLFLOW_PASSWORD: MLflow's basic-auth app needs a password of 12 characters",
        ),
        (
            {"RAKUTEN_MLFLOW_USERNAME": "s:vc", "RAKUTEN_MLFLOW_PASSWORD": PASSWORD},
            "RAKUTEN_MLFLOW_USERNAME: a user name has no colon",
        ),
    ],
)
def test_half_or_weak_mlflow_credentials_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: dict[str, str], problem: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert problem in describe_settings_error(caught.value)
    assert "short-one" not in str(caught.value) and PASSWORD not in str(caught.value)


def test_secrets_stay_out_of_the_settings_repr(tmp_path: Path) -> None:
    shown = repr(closed_settings(tmp_path))
    assert PASSWORD not in shown and AUTH_STRING not in shown


def test_mlflow_credentials_are_the_process_s(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = "http://mlflow.test:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "their-password")
    use_credentials("", SecretStr(""))  # no user name: MLflow's own variables are left alone
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "someone"
    use_credentials("control-room", SecretStr(PASSWORD))  # the settings win
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "control-room"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == PASSWORD
    # Refusals name the settings to fix, not their values (the API shows them on /health).
    assert str(refusal(401, uri)) == (
        f"MLflow at {uri} refused the control room's credentials: set RAKUTEN_MLFLOW_USERNAME "
        "and RAKUTEN_MLFLOW_PASSWORD to a user of its basic-auth app, then restart."
    )
    assert "RAKUTEN_MLFLOW_USERNAME" in str(refusal(403, uri))
    assert not any("control-room" in str(refusal(s, uri)) for s in (401, 403))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert "asks who is calling (basic auth)" in str(refusal(401, uri))
    assert refusal(500, uri) is None and refusal(None, uri) is None


def test_prefect_rest_sends_the_auth_string_as_prefect_s_own_client() -> None:
    from prefect.client.orchestration import PrefectClient

    theirs = PrefectClient(api="http://p:4200/api", auth_string=AUTH_STRING)._client.headers
    ours = PrefectRest("http://p:4200/api", auth_string=SecretStr(AUTH_STRING))
    assert ours._http.headers["Authorization"] == theirs["Authorization"]
    assert base64.b64decode(theirs["Authorization"].removeprefix("Basic ")) == AUTH_STRING.encode()
    assert "Authorization" not in PrefectRest("http://p:4200/api")._http.headers
