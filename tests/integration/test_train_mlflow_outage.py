"""The train flow through an MLflow outage, on real processes (issue 15).

A real ``mlflow server`` (it stores and serves the artifacts too) that the flow reaches only through
a :class:`TcpProxy` the test owns, a Prefect test server, a small catalogue imported and a champion
trained with the proxy passing. Each case cuts MLflow at one point of a train run — the proxy
refuses connections (the server is down) or stalls them (it hangs) — and checks, with the proxy
passing again:

- the run failed, and its message (what the Training page shows) says MLflow was not reachable and
  what the run left behind; a stall is given up within a bound set by the flow's HTTP policy;
- a version exists only if its model is fully stored: every version is READY with a READY logged
  model. A version created just before the cut is kept (READY, no alias) and the message names it;
- ``@champion`` has not moved and the promotion log has no new row;
- an MLflow run cut off mid-logging ends FAILED, its logged model too: at once if MLflow hears the
  run's end, otherwise (the server down) the next train run marks it;
- the same flow, run again, succeeds and registers the next version.

The cut is triggered from inside the run by wrapping one call (a step of the flow or one of MLflow's
client); the outage itself is real. Only once MLflow is cut, its per-request timeout drops to
:data:`TIMEOUT_S` (an operator's setting wins over the flow's policy): healthy requests of a loaded
machine keep the flow's own 30 s, and the stalled ones are given up sooner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository
from prefect.states import State

import core.flows.train as train_module
from core.access import Actor
from core.adapters.flows import PrefectRest
from core.adapters.mlflow_http import BRIEF_TIMEOUT, HTTP_POLICY, RETRIES_VARIABLE, TIMEOUT_VARIABLE
from core.adapters.model_store import MlflowModelStore
from core.data import loading
from core.data.store import import_products
from core.data.synthetic import generate_catalogue
from core.db.engine import ensure_schema, make_engine
from core.flows.train import train_flow
from core.registry import CHALLENGER
from core.settings import get_settings
from core.train import PRESETS
from tests.mlflow_outage import Lab, Outage, Registry, champion_alias
from tests.mlflow_server import mlflow_server
from tests.ports import free_port
from tests.tcp_proxy import Mode, TcpProxy

# The first case also waits for the services (a Prefect and an MLflow server) to start.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FAST = PRESETS["Fast: small word vocabulary, SGD"]
TIMEOUT_S = 2  # MLflow's per-request timeout once cut
RETRIES = HTTP_POLICY["flow"][0]
# One request given up: every try waits the timeout; urllib3 sleeps 0 s, then 2 × 2 s (+ ≤ 1 s).
GIVEN_UP_S = (RETRIES + 1) * TIMEOUT_S + 5
SLACK_S = 10  # Prefect's own calls and the test's machine


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    root = tmp_path_factory.mktemp("train-outage")
    port = free_port()
    with (
        prefect_test_harness(server_startup_timeout=120),
        mlflow_server(f"sqlite:///{root / 'mlflow.db'}", port, root / "mlflow"),
        TcpProxy(port) as proxy,
        pytest.MonkeyPatch.context() as env,
    ):
        env.chdir(root)
        env.setenv("RAKUTEN_VAR_DIR", str(root))
        env.setenv("RAKUTEN_DATABASE_URL", f"sqlite:///{root / 'db.sqlite'}")
        env.setenv("RAKUTEN_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{proxy.port}")
        env.setenv("RAKUTEN_API_URL", f"http://127.0.0.1:{free_port()}")  # no API: not asked
        for name in (RETRIES_VARIABLE, TIMEOUT_VARIABLE):
            env.delenv(name, raising=False)  # the flow's own policy; removed again afterwards
        get_settings.cache_clear()
        engine = make_engine(get_settings().database_url)
        ensure_schema(engine)
        admin = Actor.local_admin()
        catalogue = generate_catalogue(3_000, seed=2)
        import_products(engine, catalogue, source="t", holdout_fraction=0.15, seed=2, actor=admin)
        loading.initialize(engine, 10_000, admin)
        assert train_flow(FAST)["version"] == 1  # the champion, trained with MLflow there
        direct_uri = f"http://127.0.0.1:{port}"
        direct = MlflowClient(direct_uri, registry_uri=direct_uri)
        yield Lab(proxy, direct, direct_uri, engine, PREFECT_API_URL.value())
        engine.dispose()
    get_settings.cache_clear()


@pytest.fixture
def outage(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outage]:
    cut = Outage(lab, monkeypatch, "refuse", TIMEOUT_S)
    yield cut
    cut.end()


def failing_run(lab: Lab, outage: Outage, *, left: str) -> tuple[State, float]:
    """Run the flow into the cut: it fails with a readable reason; how long after the cut."""
    state = train_flow(FAST, return_state=True)
    given_up = time.monotonic() - (outage.at or time.monotonic())
    assert outage.at is not None, "the run never reached the cut"
    outage.end()
    assert state.is_failed(), state
    shown = PrefectRest(lab.prefect_url).flow_run(str(state.state_details.flow_run_id)).message
    assert f"MLflow not reachable at {get_settings().mlflow_tracking_uri}" in shown, shown
    assert left in shown and "once MLflow answers" in shown, shown
    assert "Traceback" not in shown and "HTTPConnectionPool" not in shown, shown
    return state, given_up


def retry_succeeds(lab: Lab, champion_before: int) -> dict[str, Any]:
    """MLflow back, the same flow succeeds and registers the next version."""
    latest = max(lab.versions())
    again = train_flow(FAST)
    assert again["version"] == latest + 1 and again["promoted"], again
    assert lab.champion() == again["version"] != champion_before
    lab.assert_every_version_complete()
    return again


@pytest.mark.parametrize("mode", ["refuse", "stall"])
def test_mlflow_gone_before_logging_fails_the_run_with_nothing_left(
    lab: Lab, outage: Outage, mode: Mode
) -> None:
    before = lab.registry()
    outage.mode = mode
    outage.on(train_module, "fit", after=True)  # MLflow goes while the model is fitted
    state, given_up = failing_run(lab, outage, left="nothing was registered")
    assert given_up < 3 + SLACK_S  # one quick look (3 s) before logging: no retry policy

    assert lab.runs_of(state) == []  # no MLflow run was started
    assert lab.registry() == before
    retry_succeeds(lab, before.champion)


def test_mlflow_down_when_the_run_starts_fails_before_the_fit(lab: Lab, outage: Outage) -> None:
    before = lab.registry()
    outage.on(train_module, "fit")  # only to see whether the flow goes on to fit
    outage.now()
    state = train_flow(FAST, return_state=True)
    outage.end()
    assert state.is_failed()
    assert "nothing was trained. Train again once MLflow answers." in str(state.message)
    assert outage.reached == []  # failed before the fit, which would have been for nothing
    assert lab.registry() == before


@pytest.mark.parametrize("mode", ["refuse", "stall"])
def test_mlflow_gone_during_the_upload_leaves_a_failed_run_and_no_version(
    lab: Lab, outage: Outage, mode: Mode
) -> None:
    before = lab.registry()
    outage.mode = mode
    # The run exists and its first artifact is stored; the next one never arrives.
    outage.on(HttpArtifactRepository, "log_artifact", after=True)
    state, given_up = failing_run(lab, outage, left="the run was not fully logged")
    # The failed upload and MLflow's own marking of the model as FAILED each wait out the policy;
    # the run's end is tried once (27 s here when stalled, 9 s when refused).
    assert given_up < 2 * GIVEN_UP_S + BRIEF_TIMEOUT + SLACK_S

    assert lab.registry() == before
    (cut,) = lab.runs_of(state)
    if mode == "refuse":  # nothing reached the server: the run could not be ended
        assert cut.info.status == "RUNNING"
        assert lab.logged_model_states(cut.info.run_id) == {str(LoggedModelStatus.PENDING)}
    retry_succeeds(lab, before.champion)  # MLflow back: the next train run ends what this left
    assert lab.direct.get_run(cut.info.run_id).info.status == "FAILED"
    assert lab.logged_model_states(cut.info.run_id) == {str(LoggedModelStatus.FAILED)}


def test_mlflow_gone_after_the_version_was_created_keeps_a_complete_version(
    lab: Lab, outage: Outage
) -> None:
    before = lab.registry()
    outage.on(MlflowClient, "create_model_version", after=True)
    state, _ = failing_run(lab, outage, left="the champion did not change")

    after = lab.registry()
    (kept,) = after.versions - before.versions
    assert f"version {kept} was registered but is not the challenger" in str(state.message)
    lab.assert_every_version_complete()
    assert lab.aliases(kept) == []  # neither challenger nor champion
    assert after == Registry(before.champion, after.versions, before.promotions)
    store = MlflowModelStore(lab.direct_uri)
    pipeline = store.load_pipeline(store.version_ref(kept))  # its model is all there
    products = generate_catalogue(135, seed=3)
    assert len(pipeline.predict(products)) == len(products)
    (run,) = lab.runs_of(state)
    assert run.info.status == "FINISHED"  # logging had completed
    retry_succeeds(lab, before.champion)


def test_mlflow_gone_as_the_champion_alias_moves_leaves_the_champion_and_the_log(
    lab: Lab, outage: Outage
) -> None:
    before = lab.registry()
    outage.on(MlflowClient, "set_registered_model_alias", when=champion_alias)
    state, _ = failing_run(lab, outage, left="the champion did not change")

    after = lab.registry()
    (challenger,) = after.versions - before.versions
    assert f"version {challenger} is the challenger" in str(state.message)
    assert "Promote it from the Training page once MLflow answers." in str(state.message)
    assert lab.aliases(challenger) == [CHALLENGER]
    # The promotion log's row went back with the alias that failed.
    assert after == Registry(before.champion, after.versions, before.promotions)
    lab.assert_every_version_complete()
    retry_succeeds(lab, before.champion)


def test_mlflow_gone_just_after_the_champion_moved_is_a_promotion(lab: Lab, outage: Outage) -> None:
    before = lab.registry()
    outage.on(MlflowClient, "set_registered_model_alias", after=True, when=champion_alias)
    summary = train_flow(FAST)  # only the challenger alias's removal fails: it can stay
    outage.end()
    assert outage.at is not None and summary["promoted"]
    after = lab.registry()
    assert (after.champion, after.promotions) == (summary["version"], before.promotions + 1)
    assert CHALLENGER in lab.aliases(summary["version"])  # stale, and harmless
