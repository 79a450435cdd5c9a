"""Each page as a viewer and as an operator: the controls the role may not use are disabled,
with the reason as their help, never hidden; what every role may do stays enabled."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import app.bootstrap
from app import state
from app.managers.dataset import DatasetManager
from core.access import Actor, Role
from core.registry import CHAMPION
from tests.app.conftest import ACTOR, REPO_ROOT, button, loaded, run_page
from tests.fakes import FakeFlowRunner
from tests.fakes_serving import FakeModelStore

PAGES = REPO_ROOT / "app" / "pages"
OPERATOR_ROLE = "needs the operator role"
ADMIN_ROLE = "needs the admin role"


def as_role(monkeypatch: pytest.MonkeyPatch, role: Role) -> None:
    """The page's acting person (the page script imports it from the already-loaded module)."""
    person = Actor(subject=f"{role}-1", via="oidc", role=role, email=f"{role}@example.org")
    monkeypatch.setattr(app.bootstrap, "current_actor", lambda: person)


def popover(at: AppTest, prefix: str):
    """A popover's own settings (label, disabled, help)."""
    found = (p.proto.popover for p in at.get("popover"))
    return next(p for p in found if p.label.startswith(prefix))


def control(at: AppTest, prefix: str) -> tuple[bool, str]:
    """Whether the popover or button labelled ``prefix…`` is disabled, and its help (popovers
    first: their confirmation buttons are drawn inside, with labels of their own)."""
    for p in (p.proto.popover for p in at.get("popover")):
        if p.label.startswith(prefix):
            return p.disabled, p.help
    b = button(at, prefix)
    return b.disabled, b.help


def test_dataset_as_a_viewer(monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)  # imported, nothing loaded yet
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(PAGES / "2_Dataset.py")
    assert not at.exception
    assert control(at, "Initialize") == (True, OPERATOR_ROLE)
    assert control(at, "Import") == (True, ADMIN_ROLE)  # replacing data is the admin's
    assert dataset.status().loaded_rows == 0


def test_dataset_as_an_operator(monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager) -> None:
    loaded(dataset)
    as_role(monkeypatch, Role.OPERATOR)
    at = run_page(PAGES / "2_Dataset.py")
    assert control(at, "Load next batch") == (False, "")
    assert control(at, "Reset") == (True, ADMIN_ROLE)
    before = dataset.status().loaded_rows
    button(at, "Load next batch").click().run()
    assert not at.exception and not at.error
    assert dataset.status().loaded_rows > before


def test_an_empty_database_is_the_operators_to_import(
    monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager
) -> None:
    as_role(monkeypatch, Role.VIEWER)
    assert control(run_page(PAGES / "2_Dataset.py"), "Import") == (True, OPERATOR_ROLE)
    as_role(monkeypatch, Role.OPERATOR)
    assert control(run_page(PAGES / "2_Dataset.py"), "Import") == (False, "")


@pytest.fixture
def a_better_candidate(fake_store: FakeModelStore) -> None:
    fake_store.add_run(0.80)
    fake_store.set_alias(CHAMPION, 1)
    fake_store.add_run(0.85)  # v2 passes the gate


def test_training_as_a_viewer(
    monkeypatch: pytest.MonkeyPatch,
    dataset: DatasetManager,
    a_better_candidate: None,
    fake_prefect: FakeFlowRunner,
) -> None:
    loaded(dataset)
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(PAGES / "3_Training.py")
    assert not at.exception
    assert control(at, "Train") == (True, OPERATOR_ROLE)
    assert control(at, "Promote v2") == (True, OPERATOR_ROLE)
    assert control(at, "Rollback") == (True, ADMIN_ROLE)
    assert fake_prefect.triggered == []


def test_training_as_an_operator(
    monkeypatch: pytest.MonkeyPatch,
    dataset: DatasetManager,
    a_better_candidate: None,
    fake_store: FakeModelStore,
) -> None:
    loaded(dataset)
    as_role(monkeypatch, Role.OPERATOR)
    at = run_page(PAGES / "3_Training.py")
    assert control(at, "Train") == (False, "")
    assert control(at, "Force") == (True, ADMIN_ROLE)
    assert control(at, "Rollback") == (True, ADMIN_ROLE)
    button(at, "Promote v2").click().run()
    assert not at.exception and not at.error
    assert fake_store.aliases[CHAMPION] == 2


def test_a_gate_that_refuses_shows_force_to_the_admin_only(
    monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager, fake_store: FakeModelStore
) -> None:
    fake_store.add_run(0.85)
    fake_store.set_alias(CHAMPION, 1)
    fake_store.add_run(0.70)  # v2 is refused by the gate
    as_role(monkeypatch, Role.OPERATOR)
    assert control(run_page(PAGES / "3_Training.py"), "Force") == (True, ADMIN_ROLE)
    as_role(monkeypatch, Role.ADMIN)
    assert control(run_page(PAGES / "3_Training.py"), "Force") == (False, "")


def test_predictions_as_a_viewer_predict_but_give_no_feedback(
    monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager, fake_store: FakeModelStore
) -> None:
    fake_store.add_run(0.84)
    fake_store.set_alias(CHAMPION, 1)
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(PAGES / "4_Predictions.py")
    assert control(at, "Predict")[0] is False  # live predictions are everyone's
    at.text_input(key="predict_designation").set_value("Piscine tubulaire ronde")
    at = button(at, "Predict").click().run()
    assert not at.exception and not at.error
    assert control(at, "Save feedback") == (True, OPERATOR_ROLE)
    assert control(at, "Save feedback marks") == (True, OPERATOR_ROLE)  # the history's


def test_monitoring_as_a_viewer_and_an_operator(
    monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager, fake_prefect: FakeFlowRunner
) -> None:
    dataset.import_builtin(2_000, actor=ACTOR)
    page = PAGES / "5_Monitoring.py"
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(page)
    assert not at.exception
    assert control(at, "Run drift check now") == (True, OPERATOR_ROLE)
    assert control(at, "Run monitor-and-retrain now") == (True, OPERATOR_ROLE)
    assert control(at, "Send traffic") == (True, OPERATOR_ROLE)
    pause = at.button(key="pause-monitor/monitor")
    assert (pause.label, pause.disabled, pause.help) == ("Pause", True, ADMIN_ROLE)

    as_role(monkeypatch, Role.OPERATOR)
    at = run_page(page)
    assert control(at, "Run drift check now") == (False, "")
    assert control(at, "Send traffic") == (False, "")
    assert at.button(key="pause-monitor/monitor").disabled
    button(at, "Run drift check now").click().run()
    assert [deployment for deployment, _ in fake_prefect.triggered] == ["monitor/monitor"]


def test_a_paused_schedule_shows_paused_to_a_viewer(
    monkeypatch: pytest.MonkeyPatch, dataset: DatasetManager, fake_prefect: FakeFlowRunner
) -> None:
    fake_prefect.paused.add("monitor/monitor")
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(PAGES / "5_Monitoring.py")
    resume = at.button(key="pause-monitor/monitor")
    assert (resume.label, resume.disabled, resume.help) == ("Resume", True, ADMIN_ROLE)
    assert any("paused" in m.value for m in at.markdown)


def test_infrastructure_as_a_viewer_and_an_operator(
    monkeypatch: pytest.MonkeyPatch, app_settings
) -> None:
    page = PAGES / "6_Infrastructure.py"
    as_role(monkeypatch, Role.VIEWER)
    at = run_page(page)
    at.selectbox(key=state.INFRA_SERVICE).set_value("api").run()
    assert popover(at, "Stop api").disabled and popover(at, "Stop api").help == ADMIN_ROLE
    assert popover(at, "Restart api").help == OPERATOR_ROLE
    assert popover(at, "Restart api").disabled

    as_role(monkeypatch, Role.OPERATOR)
    at = run_page(page)
    at.selectbox(key=state.INFRA_SERVICE).set_value("api").run()
    assert not popover(at, "Restart api").disabled and popover(at, "Restart api").help == ""
    assert popover(at, "Stop api").disabled and popover(at, "Stop api").help == ADMIN_ROLE
