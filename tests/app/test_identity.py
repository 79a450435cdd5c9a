"""Who-am-I in every page's sidebar: local mode says so; a wide address without an identity
provider is refused in the app itself; with a provider, sign in first."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from core.settings import REPO_ROOT, Settings
from tests.app.conftest import PAGES, _fresh_caches, run_page

HOME = REPO_ROOT / "app" / "Home.py"
LOCAL = "No identity provider configured — local admin, listening on 127.0.0.1"
AUTH = (
    '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
    'cookie_secret = "s3cr3t-s3cr3t-s3cr3t"\nclient_id = "control-room"\nclient_secret = "shh"\n'
    'server_metadata_url = "http://127.0.0.1:1/.well-known/openid-configuration"\n'
)
ANA = {"is_logged_in": True, "sub": "u-ana", "email": "ana@example.com", "name": "Ana Lima"}


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.sidebar.caption, *at.sidebar.markdown])


def configure_provider(app_settings: Settings) -> None:
    # The project's secrets file: the app_settings fixture runs the app from a fresh directory.
    secrets = Path.cwd() / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir(exist_ok=True)
    secrets.write_text(AUTH)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_page_says_local_admin_without_a_provider(app_settings: Settings, page: Path) -> None:
    at = run_page(page)
    assert not at.exception
    assert LOCAL in sidebar_text(at)


def test_a_wide_address_without_a_provider_is_refused_in_the_app(app_settings: Settings) -> None:
    with patch_config_options({"server.address": "0.0.0.0"}):
        at = run_page(HOME)
    assert not at.exception
    assert "Refusing to listen on 0.0.0.0" in at.error[0].value
    assert "[auth] section of .streamlit/secrets.toml" in at.error[0].value
    assert not at.title  # nothing of the control room is shown


def test_a_container_published_on_the_hosts_loopback_is_not_refused(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    # The stack: 0.0.0.0 inside the container, reached only through the host's 127.0.0.1.
    monkeypatch.setenv("RAKUTEN_APP_PUBLISHED_ADDRESS", "127.0.0.1")
    _fresh_caches()
    with patch_config_options({"server.address": "0.0.0.0"}):
        at = run_page(HOME)
    assert not at.exception and not at.error
    assert LOCAL in sidebar_text(at)


def test_an_incomplete_auth_section_stays_local_and_says_why(app_settings: Settings) -> None:
    secrets = Path.cwd() / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir(exist_ok=True)
    secrets.write_text('[auth]\nclient_id = "x"\n')
    at = run_page(HOME)
    assert LOCAL in sidebar_text(at)
    assert "[auth] lacks redirect_uri" in at.sidebar.warning[0].value


def test_with_a_provider_a_signed_out_person_sees_only_the_sign_in(app_settings: Settings) -> None:
    configure_provider(app_settings)
    with patch_config_options({"server.address": "0.0.0.0"}):  # allowed: there is a provider
        at = AppTest.from_file(str(HOME), default_timeout=60)
        at.user = {"is_logged_in": False}
        at.run()
    assert not at.exception
    assert not at.error
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.title


def test_a_signed_in_person_sees_their_name_and_role_and_can_sign_out(
    app_settings: Settings,
) -> None:
    configure_provider(app_settings)
    at = AppTest.from_file(str(REPO_ROOT / "app" / "pages" / "2_Dataset.py"), default_timeout=60)
    at.user = ANA
    at.run()
    assert not at.exception
    assert "**Ana Lima** · viewer" in sidebar_text(at)  # RAKUTEN_DEFAULT_ROLE
    assert "ana@example.com" in sidebar_text(at)
    assert LOCAL not in sidebar_text(at)
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert at.title[0].value == "Dataset"


def test_the_default_role_of_a_signed_in_person_is_a_setting(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_provider(app_settings)
    monkeypatch.setenv("RAKUTEN_DEFAULT_ROLE", "operator")
    from tests.app.conftest import _fresh_caches

    _fresh_caches()
    at = AppTest.from_file(str(HOME), default_timeout=60)
    at.user = ANA
    at.run()
    assert "**Ana Lima** · operator" in sidebar_text(at)
