"""Local mode listens on 127.0.0.1 unless an identity provider is configured: any wider address
without one is refused before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.identity import binding_refusal, is_loopback, read_identity_provider
from core.local_stack import app_address_url, app_refusal, local_services
from core.settings import REPO_ROOT, Settings
from tests.ports import free_port

AUTH = (
    '[auth]\nredirect_uri = "http://rooms.example.com:8501/oauth2callback"\n'
    'cookie_secret = "s3cr3t-s3cr3t"\nclient_id = "c"\nclient_secret = "s"\n'
    'server_metadata_url = "https://idp.example.com/.well-known/openid-configuration"\n'
)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.20", False),
        ("rooms.example.com", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_the_refusal_names_what_to_configure() -> None:
    message = binding_refusal("0.0.0.0", read_identity_provider([]))
    assert message is not None
    assert "Refusing to listen on 0.0.0.0" in message
    assert "[auth] section of .streamlit/secrets.toml" in message
    assert ".streamlit/secrets.toml.example" in message
    assert "RAKUTEN_APP_ADDRESS=127.0.0.1" in message
    assert binding_refusal("127.0.0.1", read_identity_provider([])) is None


def settings_for(tmp_path: Path, address: str) -> Settings:
    return Settings(var_dir=tmp_path / "var", app_address=address, api_token="t")


def test_make_run_starts_the_app_on_the_configured_address(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "0.0.0.0")
    app = next(spec for spec in local_services(settings) if spec.name == "app")
    assert app.command[app.command.index("--server.address") + 1] == "0.0.0.0"
    assert app.health_url == f"http://127.0.0.1:{settings.app_port}/_stcore/health"
    assert app_address_url(settings_for(tmp_path, "::1")) == "http://[::1]:8501"
    assert Settings(var_dir=tmp_path).app_address == "127.0.0.1"  # the default


def test_a_wide_address_is_refused_without_a_provider_and_allowed_with_one(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    wide = settings_for(tmp_path, "0.0.0.0")
    assert app_refusal(settings_for(tmp_path, "127.0.0.1"), project, home) is None
    assert "Refusing to listen on 0.0.0.0" in (app_refusal(wide, project, home) or "")
    (project / ".streamlit").mkdir(parents=True)
    (project / ".streamlit" / "secrets.toml").write_text(AUTH)
    assert app_refusal(wide, project, home) is None


def local_stack(
    tmp_path: Path, address: str, *args: str, port: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # no ~/.streamlit/secrets.toml of the person running the tests
        "RAKUTEN_VAR_DIR": str(tmp_path / "var"),
        "RAKUTEN_APP_ADDRESS": address,
        "RAKUTEN_APP_PORT": str(port or free_port()),
        "RAKUTEN_API_TOKEN": "t",
        # Servers elsewhere: only the app is local mode's to start (and their ports may be busy).
        "RAKUTEN_MLFLOW_TRACKING_URI": "http://mlflow.invalid:5000",
        "RAKUTEN_PREFECT_API_URL": "http://prefect.invalid:4200/api",
        "RAKUTEN_API_URL": "http://api.invalid:8000",
    }
    return subprocess.run(
        [sys.executable, "-m", "core.local_stack", *args],
        cwd=tmp_path,  # no .env
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_no_repo_secrets = pytest.mark.skipif(
    any((REPO_ROOT / d / ".streamlit" / "secrets.toml").exists() for d in (".", "app")),
    reason="this checkout configures an identity provider",
)


@needs_no_repo_secrets
@pytest.mark.parametrize("command", [["run"], ["up", "app"]])
def test_the_real_command_refuses_a_wide_address_and_starts_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    result = local_stack(tmp_path, "0.0.0.0", *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Refusing to listen on 0.0.0.0" in result.stdout
    assert "[auth] section of .streamlit/secrets.toml" in result.stdout
    assert not (tmp_path / "var" / "run" / "app.pid").exists()


@needs_no_repo_secrets
def test_the_real_command_starts_the_app_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    try:
        started = local_stack(tmp_path, "127.0.0.1", "up", "app", port=port)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "app      healthy" in started.stdout
    finally:
        local_stack(tmp_path, "127.0.0.1", "down", "app", port=port)
