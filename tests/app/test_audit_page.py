"""The Audit view: who did what and how it ended, filtered, downloadable; readable when the
database is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.managers.access import AccessManager
from app.managers.database import Database
from app.managers.errors import Forbidden
from core.access import Actor, Role
from core.settings import REPO_ROOT, Settings
from tests.app.conftest import ACTOR, run_page

AUDIT = REPO_ROOT / "app" / "pages" / "8_Audit.py"
VIEWER = Actor(subject="u-vic", via="oidc", role=Role.VIEWER, email="vic@example.com")


@pytest.fixture
def history(database: Database) -> AccessManager:
    """One admin assignment (done) and one viewer's attempt (refused)."""
    access = AccessManager(database)
    access.assign("ana@example.com", Role.OPERATOR, ACTOR)
    with pytest.raises(Forbidden):
        access.assign("vic@example.com", Role.ADMIN, VIEWER)
    return access


def shown(at) -> list[tuple[str, str]]:
    frame = at.dataframe[0].value
    return list(zip(frame["subject"], frame["outcome"], strict=True))


def test_the_audit_lists_every_action_newest_first(history: AccessManager) -> None:
    at = run_page(AUDIT)
    assert not at.exception and not at.error
    assert shown(at) == [("u-vic", "refused"), ("local", "done")]
    assert "needs the admin role" in at.dataframe[0].value["message"].iloc[0]


def test_filters_by_person_and_outcome(history: AccessManager) -> None:
    at = run_page(AUDIT)
    at.text_input[0].input("VIC@").run()
    assert shown(at) == [("u-vic", "refused")]
    at.text_input[0].input("").run()
    at.selectbox[1].select("done").run()
    assert shown(at) == [("local", "done")]
    at.selectbox[0].select("reset").run()
    assert not at.dataframe and "No audited action matches." in at.info[0].value


def test_filters_by_time(history: AccessManager) -> None:
    now = datetime.now(UTC)
    assert len(history.audit(since=now - timedelta(hours=1))) == 2
    assert history.audit(until=now - timedelta(hours=1)).empty
    at = run_page(AUDIT)
    yesterday = (now - timedelta(days=2)).date(), (now - timedelta(days=1)).date()
    at.date_input[0].set_value(yesterday).run()
    assert not at.exception and not at.dataframe


def test_the_csv_download_is_offered(history: AccessManager) -> None:
    at = run_page(AUDIT)
    button = at.get("download_button")[0]
    assert not button.proto.disabled
    assert "Download CSV" in button.proto.label


def test_the_audit_says_when_the_database_is_down(outage, app_settings: Settings) -> None:
    at = run_page(AUDIT)
    assert not at.exception
    assert "Database not reachable at postgresql" in at.error[0].value
