"""The identity provider as Streamlit's st.login will see it, read from real secrets files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.access import Actor, Role
from core.identity import (
    actor_from_claims,
    read_identity_provider,
    resolve_session,
    secrets_files,
)

SHARED = 'redirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s3cr3t-s3cr3t"\n'
PROVIDER = (
    'client_id = "control-room"\nclient_secret = "shh"\n'
    'server_metadata_url = "https://idp.example.com/.well-known/openid-configuration"\n'
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_file_or_no_auth_section_means_no_provider(tmp_path: Path) -> None:
    assert not read_identity_provider([tmp_path / "missing.toml"]).configured
    other = write(tmp_path / "secrets.toml", '[database]\nurl = "x"\n')
    provider = read_identity_provider([other])
    assert (provider.configured, provider.providers, provider.problems) == (False, (), ())


def test_an_unnamed_provider_in_auth_itself_is_the_default(tmp_path: Path) -> None:
    path = write(tmp_path / "secrets.toml", f"[auth]\n{SHARED}{PROVIDER}")
    provider = read_identity_provider([path])
    assert provider.configured
    assert provider.providers == ("default",)
    assert provider.source == path


def test_named_providers_are_listed_and_options_are_not_mistaken_for_one(tmp_path: Path) -> None:
    text = (
        f'[auth]\n{SHARED}client_kwargs = {{ scope = "openid profile email groups" }}\n'
        f"[auth.keycloak]\n{PROVIDER}[auth.google]\n{PROVIDER}"
    )
    provider = read_identity_provider([write(tmp_path / "secrets.toml", text)])
    assert provider.configured
    assert set(provider.providers) == {"keycloak", "google"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f'[auth]\ncookie_secret = "x"\n{PROVIDER}', "[auth] lacks redirect_uri"),
        (f'[auth]\nredirect_uri = "http://x/oauth2callback"\n{PROVIDER}', "lacks cookie_secret"),
        (f'[auth]\n{SHARED}client_id = "a"\n', "[auth] lacks client_secret, server_metadata_url"),
        (f"[auth]\n{SHARED}[auth.my_idp]\n{PROVIDER}", "[auth.my_idp]: provider names may not"),
        (f"[auth]\n{SHARED}", "[auth] names no provider"),
        ("[auth\nbroken", "is not valid TOML"),
    ],
)
def test_an_incomplete_section_is_not_a_provider_and_says_why(
    tmp_path: Path, text: str, problem: str
) -> None:
    provider = read_identity_provider([write(tmp_path / "secrets.toml", text)])
    assert not provider.configured
    assert any(problem in line for line in provider.problems), provider.problems


def test_a_later_file_replaces_an_earlier_auth_section_as_streamlit_does(tmp_path: Path) -> None:
    complete = write(tmp_path / "home" / "secrets.toml", f"[auth]\n{SHARED}{PROVIDER}")
    partial = write(tmp_path / "project" / "secrets.toml", f"[auth]\n{SHARED}")
    assert not read_identity_provider([complete, partial]).configured
    assert read_identity_provider([partial, complete]).configured


def test_secrets_files_follow_streamlits_order(tmp_path: Path) -> None:
    files = secrets_files(tmp_path / "repo", tmp_path / "repo" / "app" / "Home.py", tmp_path)
    assert files == [
        tmp_path / ".streamlit" / "secrets.toml",
        tmp_path / "repo" / ".streamlit" / "secrets.toml",
        tmp_path / "repo" / "app" / ".streamlit" / "secrets.toml",
    ]


def test_the_person_comes_from_the_id_token_claims() -> None:
    claims = {"sub": "u-42", "email": "ana@example.com", "name": "Ana", "groups": ["ml"]}
    actor = actor_from_claims(claims, Role.OPERATOR)
    assert actor == Actor("u-42", "oidc", Role.OPERATOR, "ana@example.com", "Ana")
    with pytest.raises(ValueError, match="sub"):
        actor_from_claims({"email": "ana@example.com"}, Role.VIEWER)


def test_a_session_without_provider_is_the_local_admin_on_loopback_only(tmp_path: Path) -> None:
    none = read_identity_provider([])
    assert resolve_session(none, "127.0.0.1", None, lambda _: Role.VIEWER).actor == (
        Actor.local_admin()
    )
    wide = resolve_session(none, "0.0.0.0", None, lambda _: Role.VIEWER)
    assert wide.actor is None
    assert wide.refusal is not None and "[auth] section of .streamlit/secrets.toml" in wide.refusal


def test_a_session_with_a_provider_is_the_signed_in_person_or_nobody(tmp_path: Path) -> None:
    provider = read_identity_provider([write(tmp_path / "s.toml", f"[auth]\n{SHARED}{PROVIDER}")])
    seen: list[dict] = []

    def role_of(claims):
        seen.append(dict(claims))
        return Role.OPERATOR

    signed_out = resolve_session(provider, "0.0.0.0", None, role_of)
    assert (signed_out.actor, signed_out.refusal, seen) == (None, None, [])
    claims = {"is_logged_in": True, "sub": "u-1", "email": "bo@example.com", "groups": ["ops"]}
    signed_in = resolve_session(provider, "0.0.0.0", claims, role_of)
    assert signed_in.actor == Actor("u-1", "oidc", Role.OPERATOR, "bo@example.com")
    assert seen == [claims]  # the role is decided from the token's claims
    no_subject = resolve_session(provider, "0.0.0.0", {"is_logged_in": True}, role_of)
    assert no_subject.actor is None and "sub" in (no_subject.refusal or "")
