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
from tests.app.conftest import ACTOR, _fresh_caches, button, run_page
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


def removal(at: AppTest):
    """The *Remove an assignment…* popover's own settings (label, disabled, help)."""
    found = (p.proto.popover for p in at.get("popover"))
    return next(p for p in found if p.label.startswith("Remove an assignment"))


def test_the_local_admin_removes_an_assignment_after_confirming(
    app_settings: Settings, access: AccessManager
) -> None:
    access.assign("ana@example.com", Role.OPERATOR, ACTOR)
    access.assign("u-bob", Role.ADMIN, ACTOR)
    at = run_page(ACCESS)
    assert not at.exception and not removal(at).disabled
    picker = next(s for s in at.selectbox if s.label == "Assignment to remove")
    assert picker.options == ["ana@example.com", "u-bob"]
    picker.select("u-bob").run()
    assert "Remove the assignment of **u-bob**?" in " ".join(m.value for m in at.markdown)
    assert access.assignments()["principal"].tolist() == ["ana@example.com", "u-bob"]  # not yet
    button(at, "Yes, remove it").click().run()
    assert not at.exception and not at.error
    assert "The assignment of u-bob (admin) is removed" in at.success[0].value
    assert access.assignments()["principal"].tolist() == ["ana@example.com"]
    audit = access.audit(action="manage_roles")
    assert audit[["target", "parameters", "outcome"]].values.tolist()[0] == [
        "u-bob",
        '{"change": "remove"}',
        "done",
    ]


def test_removing_ones_own_assignment_is_warned_about(
    app_settings: Settings, access: AccessManager
) -> None:
    configure_provider(app_settings)
    access.assign("ana@example.com", Role.ADMIN, ACTOR)
    at = signed_in(ACCESS, ANA)
    assert "**Ana Lima** · admin" in sidebar_text(at)
    assert "your own assignment" in at.warning[0].value


def test_a_viewer_sees_the_removal_disabled_with_the_reason(
    app_settings: Settings, access: AccessManager
) -> None:
    access.assign("u-bob", Role.OPERATOR, ACTOR)
    configure_provider(app_settings)
    at = signed_in(ACCESS, ANA)
    assert not at.exception and not at.error
    assert (removal(at).disabled, removal(at).help) == (True, "needs the admin role")
    assert access.assignments()["principal"].tolist() == ["u-bob"]


def test_with_no_assignment_there_is_nothing_to_remove(app_settings: Settings) -> None:
    at = run_page(ACCESS)
    assert removal(at).disabled and removal(at).help == "No assignment to remove."


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_an_admin_may_remove_an_assignment_and_a_refusal_is_audited(
    access: AccessManager, role: Role
) -> None:
    access.assign("u-bob", Role.ADMIN, ACTOR)
    bob = Actor(subject="u-bob", via="oidc", role=role, email="bob@example.com")
    with pytest.raises(Forbidden, match="needs the admin role"):
        access.revoke("u-bob", bob)
    assert access.assignments()["principal"].tolist() == ["u-bob"]
    refused = access.audit(outcome="refused")
    assert refused[["subject", "action", "target"]].values.tolist() == [
        ["u-bob", "manage_roles", "u-bob"]
    ]


def test_removing_what_is_not_assigned_is_rejected_with_its_name(access: AccessManager) -> None:
    with pytest.raises(Rejected, match="carla@example.com has no assignment to remove"):
        access.revoke("Carla@Example.com", ACTOR)
    with pytest.raises(Rejected, match="Name the person"):
        access.revoke(" ", ACTOR)
    assert access.audit()["outcome"].tolist() == ["failed", "failed"]


def test_after_the_removal_the_claim_applies_again(access: AccessManager) -> None:
    access.assign("U-Ana", Role.VIEWER, ACTOR)
    assert access.role_of(Role.ADMIN, "u-ana", None, Role.VIEWER) == Role.VIEWER
    assert access.revoke("u-ana ", ACTOR) == Role.VIEWER
    assert access.role_of(Role.ADMIN, "u-ana", None, Role.VIEWER) == Role.ADMIN
    assert access.role_of(None, "u-ana", None, Role.OPERATOR) == Role.OPERATOR
