"""The Training page: train through Prefect, follow the run, compare runs, promote, roll back."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.managers.dataset import DatasetManager
from core.registry import CHAMPION
from tests.app.conftest import ACTOR, REPO_ROOT, button, loaded, run_page
from tests.fakes import FakeFlowRunner
from tests.fakes_serving import FakeModelStore, FakePredictor

TRAINING = REPO_ROOT / "app" / "pages" / "3_Training.py"


def page() -> AppTest:
    return run_page(TRAINING)


def test_no_data_loaded_says_so_and_disables_train(dataset: DatasetManager) -> None:
    at = page()
    assert not at.exception
    assert "No products are loaded yet" in at.warning[0].value
    assert button(at, "Train").disabled


def test_train_triggers_the_deployment_and_shows_the_run(
    dataset: DatasetManager, fake_prefect: FakeFlowRunner
) -> None:
    loaded(dataset)
    at = page()
    at.number_input[0].set_value(2.5)  # C
    button(at, "Train").click().run()
    assert not at.exception and not at.error
    deployment, parameters = fake_prefect.triggered[0]
    assert deployment == "train/train"
    assert parameters["config"]["c"] == 2.5 and parameters["auto_promote"] is True
    assert parameters["actor"] == ACTOR.as_params()  # the flow records who asked
    assert any("brave-otter" in m.value and "Completed" in m.value for m in at.markdown)


def test_out_of_range_hyperparameters_are_refused_in_the_form(
    dataset: DatasetManager, fake_prefect: FakeFlowRunner
) -> None:
    loaded(dataset)
    at = page()
    at.number_input[1].set_value(10)  # max features, below 1,000
    button(at, "Train").click().run()
    assert "out of range" in at.error[0].value and "max_features" in at.error[0].value
    assert fake_prefect.triggered == []


@pytest.mark.parametrize(
    "reason",
    [
        "TrainingError: The holdout is empty",
        # As Prefect records a run that lost MLflow (tests/integration/test_train_mlflow_outage.py)
        "Flow run encountered an exception: Unreachable: MLflow not reachable at "
        "http://127.0.0.1:5000 (ConnectionError): the run was not fully logged and nothing was "
        "registered. Train again once MLflow answers.",
    ],
)
def test_a_failed_flow_run_shows_its_error(
    dataset: DatasetManager, fake_prefect: FakeFlowRunner, reason: str
) -> None:
    loaded(dataset)
    fake_prefect.outcome = ("FAILED", "Failed", reason)
    at = page()
    button(at, "Train").click().run()
    assert at.error[0].value == f"The train run failed: {reason}"


def test_prefect_down_is_a_readable_error(
    dataset: DatasetManager, fake_prefect: FakeFlowRunner
) -> None:
    loaded(dataset)
    fake_prefect.down = True
    at = page()
    assert not at.exception
    assert "Prefect not reachable at http://prefect.test" in at.error[0].value
    train = button(at, "Train")  # disabled with the reason: it cannot be clicked into an error
    assert train.disabled and "Prefect not reachable" in train.help


def test_mlflow_down_is_a_readable_error(
    dataset: DatasetManager, fake_store: FakeModelStore
) -> None:
    fake_store.down = True
    at = page()
    assert not at.exception
    assert "MLflow not reachable" in at.error[0].value


def test_runs_compare_and_detail(dataset: DatasetManager, fake_store: FakeModelStore) -> None:
    fake_store.add_run(0.80)
    fake_store.add_run(0.82)
    at = AppTest.from_file(TRAINING, default_timeout=60)
    key = f"training_runs_{hash(('run2', 'run1'))}"  # the table's key follows its run ids
    at.session_state[key] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    assert not at.exception
    assert at.dataframe[0].value["weighted_f1"].tolist() == [0.82, 0.80]
    assert len(at.get("plotly_chart")) == 3  # comparison, confusion heatmap, per-class F1
    assert any("weighted F1 0.8200" in m.value for m in at.markdown)  # detail of the first
    pairs = at.dataframe[1].value
    assert pairs.loc[0, "count"] == 2 and pairs.loc[0, "true"] == "40 · Imported video games"


def test_promote_then_rollback(
    dataset: DatasetManager, fake_store: FakeModelStore, fake_predictor: FakePredictor
) -> None:
    fake_store.add_run(0.80)
    at = page()
    assert "passes — no champion yet" in at.success[0].value
    button(at, "Promote v1").click().run()
    assert fake_store.promoted == [1]
    assert "Champion is now v1" in at.success[0].value
    assert "The API now serves v1." in at.success[0].value and fake_predictor.reloads == 1

    fake_store.add_run(0.85)
    at = page()
    button(at, "Promote v2").click().run()
    assert fake_store.promoted == [1, 2]
    fake_predictor.down = True
    button(at, "Yes, roll back").click().run()
    assert "Champion is now v1 (rollback" in at.success[0].value
    assert "The API did not reload (Predictor API not reachable" in at.success[0].value
    assert fake_store.aliases[CHAMPION] == 1
    log = at.dataframe[-1].value
    assert log["action"].tolist() == ["rollback", "promote", "promote"]
    assert set(log["triggered_by"]) == {ACTOR.label}  # the promotion log names who acted


def test_the_gate_blocks_a_worse_model_unless_forced(
    dataset: DatasetManager, fake_store: FakeModelStore
) -> None:
    fake_store.add_run(0.85)
    fake_store.set_alias(CHAMPION, 1)  # a champion already, promoted before the log began
    fake_store.add_run(0.70)
    at = page()
    assert any("refuses — v2 F1 0.7000 < v1 F1 0.8500" in w.value for w in at.warning)
    assert button(at, "Promote v2").disabled
    force = button(at, "Force promotion")
    assert force.disabled  # no reason written yet
    at.text_area(key="training_force_reason").input("v1 was trained on mislabelled data").run()
    button(at, "Force promotion").click().run()
    assert fake_store.promoted == [1, 2]
    log = at.dataframe[-1].value
    assert log["action"].tolist() == ["force"]
    assert "v1 was trained on mislabelled data" in log["reason"][0]
