"""The Access page: admins give people roles (audited, and the role applies on their next page
load); anyone else sees the assignments with the controls disabled and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app.managers.access import AccessManager
from app.managers.database import Database
from app.managers.errors import Forbidden, Rejected
from core.access import Actor, Role
from core.settings import REPO_ROOT, Settings
from tests.app.conftest import ACTOR, _fresh_caches, run_page
from tests.app.test_identity import ANA, configure_provider, sidebar_text

ACCESS = REPO_ROOT / "app" / "pages" / "7_Access.py"
AUDIT = REPO_ROOT / "app" / "pages" / "8_Audit.py"


@pytest.fixture
def access(database: Database) -> AccessManager:
    return AccessManager(database)


def signed_in(page: Path, claims: dict[str, object]) -> AppTest:
    at = AppTest.from_file(str(page), default_timeout=60)
    at.user = claims
    return at.run()


def test_the_local_admin_assigns_a_role_and_the_audit_shows_it(
    app_settings: Settings, access: AccessManager
) -> None:
    at = run_page(ACCESS)
    assert not at.exception and not at.error
    at.text_input[0].input("Ana@Example.com ")
    at.selectbox[0].select("operator")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "Ana@Example.com is now operator." in at.success[0].value
    rows = access.assignments()
    assert rows[["principal", "role"]].values.tolist() == [["ana@example.com", "operator"]]
    audit = run_page(AUDIT)
    assert not audit.exception and not audit.error
    shown = audit.dataframe[0].value
    assert shown[["action", "target", "outcome"]].values.tolist() == [
        ["manage_roles", "ana@example.com", "done"]
    ]


def test_an_empty_principal_is_rejected_with_a_message(app_settings: Settings) -> None:
    at = run_page(ACCESS)
    at.button[0].click().run()
    assert not at.exception
    assert "Name the person" in at.error[0].value


def test_a_viewer_sees_the_controls_disabled_with_the_reason(app_settings: Settings) -> None:
    configure_provider(app_settings)
    at = signed_in(ACCESS, ANA)
    assert not at.exception and not at.error
    assert "**Ana Lima** · viewer" in sidebar_text(at)
    assert at.button[0].disabled and at.text_input[0].disabled
    assert any("needs the admin role" in c.value for c in at.caption)


def test_an_assignment_wins_over_the_claim_on_the_next_page_load(
    app_settings: Settings, access: AccessManager
) -> None:
    configure_provider(app_settings)
    viewer = {**ANA, "groups": ["viewer"]}
    assert "· viewer" in sidebar_text(signed_in(ACCESS, viewer))
    access.assign("ana@example.com", Role.OPERATOR, ACTOR)
    assert "**Ana Lima** · operator" in sidebar_text(signed_in(ACCESS, viewer))


def test_the_groups_claim_gives_a_role(app_settings: Settings) -> None:
    configure_provider(app_settings)
    at = signed_in(ACCESS, {**ANA, "groups": ["staff", "admin"]})
    assert "**Ana Lima** · admin" in sidebar_text(at)
    assert not at.button[0].disabled


def test_the_role_claim_is_a_setting(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_provider(app_settings)
    monkeypatch.setenv("RAKUTEN_ROLE_CLAIM", "roles")
    _fresh_caches()
    at = signed_in(ACCESS, {**ANA, "roles": "operator", "groups": ["admin"]})
    assert "**Ana Lima** · operator" in sidebar_text(at)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_an_admin_may_assign_roles_and_a_refusal_is_audited(
    access: AccessManager, role: Role
) -> None:
    bob = Actor(subject="u-bob", via="oidc", role=role, email="bob@example.com")
    with pytest.raises(Forbidden, match="needs the admin role"):
        access.assign("bob@example.com", Role.ADMIN, bob)
    assert access.assignments().empty
    refused = access.audit(outcome="refused")
    assert refused[["subject", "action", "target"]].values.tolist() == [
        ["u-bob", "manage_roles", "bob@example.com"]
    ]


def test_a_blank_principal_is_rejected_and_recorded_as_failed(access: AccessManager) -> None:
    with pytest.raises(Rejected):
        access.assign("  ", Role.OPERATOR, ACTOR)
    assert access.audit()["outcome"].tolist() == ["failed"]


def test_the_role_is_read_from_the_database_each_time(access: AccessManager) -> None:
    assert access.role_of(Role.VIEWER, "u-ana", "ana@example.com", Role.VIEWER) == Role.VIEWER
    access.assign("u-ana", Role.ADMIN, ACTOR)
    assert access.role_of(None, "U-ANA", None, Role.VIEWER) == Role.ADMIN


def test_the_manager_runs_on_postgresql_too(engine: Engine) -> None:
    access = AccessManager(Database(engine))
    access.assign("carla@example.com", Role.OPERATOR, ACTOR)
    assert access.role_of(None, "u-carla", "Carla@example.com", Role.VIEWER) == Role.OPERATOR
    assert access.audit(person="LOCAL", action="manage_roles")["outcome"].tolist()[-1] == "done"
