"""RAKUTEN_SECRETS_FILE: `make run` hands the app one secrets file instead of Streamlit's own, and
the start-up check reads that same file — never a different one than the app will."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.identity import secrets_files
from core.local_stack import app_refusal, local_services
from core.settings import Settings

AUTH = (
    '[auth]\nredirect_uri = "http://rooms.example.com:8501/oauth2callback"\n'
    'cookie_secret = "s3cr3t-s3cr3t"\nclient_id = "c"\nclient_secret = "s"\n'
    'server_metadata_url = "https://idp.example.com/.well-known/openid-configuration"\n'
)


def settings(tmp_path: Path, address: str = "127.0.0.1", secrets: Path | None = None) -> Settings:
    return Settings(
        var_dir=tmp_path / "var", app_address=address, api_token="t", secrets_file=secrets
    )


def app_command(settings: Settings) -> list[str]:
    return next(spec for spec in local_services(settings) if spec.name == "app").command


def test_the_app_is_handed_the_chosen_file_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = app_command(settings(tmp_path, secrets=Path("conf/secrets.toml")))
    chosen = command[command.index("--secrets.files") + 1]
    assert chosen == str(tmp_path / "conf" / "secrets.toml")
    assert "--secrets.files" not in app_command(settings(tmp_path))  # Streamlit's own files


def test_the_chosen_file_replaces_streamlits_own(tmp_path: Path) -> None:
    chosen = tmp_path / "secrets.toml"
    assert secrets_files(
        tmp_path / "repo", tmp_path / "repo" / "app" / "Home.py", None, chosen
    ) == [chosen]


def test_a_missing_chosen_file_is_refused_by_name(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "secrets.toml"
    refusal = app_refusal(settings(tmp_path, secrets=missing), tmp_path, tmp_path)
    assert refusal == (
        f"RAKUTEN_SECRETS_FILE: {missing} is not a file; create it or unset the variable."
    )


def test_the_check_reads_the_chosen_file_only(tmp_path: Path) -> None:
    project, home = tmp_path / "repo", tmp_path / "home"
    (project / ".streamlit").mkdir(parents=True)
    (project / ".streamlit" / "secrets.toml").write_text(AUTH)  # the app will not read this one
    chosen = tmp_path / "chosen.toml"
    chosen.write_text('[other]\nkey = "value"\n')
    wide = settings(tmp_path, "0.0.0.0", chosen)
    assert "Refusing to listen on 0.0.0.0" in (app_refusal(wide, project, home) or "")
    chosen.write_text(AUTH)
    assert app_refusal(wide, project, home) is None
