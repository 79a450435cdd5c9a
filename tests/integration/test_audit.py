"""Roles enforced below the UI, and the audit trail: every mutating manager method, called by a
viewer and an operator, on SQLite and PostgreSQL, over the real managers and fakes of the ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.docker_services import DockerServiceManager
from app.managers.errors import Forbidden
from app.managers.flows import PrefectManager
from app.managers.inference import InferenceManager
from app.managers.predictions import PredictionManager
from app.managers.registry import RegistryManager
from core.access import Action, Actor, PermissionDenied, Role
from core.access.audit_store import SqlAuditLog, audit_entries
from core.access.roles import assign_role, revoke_role, role_assignments_frame, role_for
from core.data import loading, queries
from core.data.store import import_products
from core.db.tables import load_history, prediction_feedback, promotion_log
from core.flows.names import LOAD_DATA_DEPLOYMENT, MONITOR_DEPLOYMENT, TRAIN_DEPLOYMENT
from core.settings import Settings
from tests.fakes import FakeContainerEngine, FakeFlowRunner
from tests.fakes_serving import FakeModelStore, FakePredictor

VIEWER = Actor("ann", "oidc", Role.VIEWER, email="ann@example.org")
OPERATOR = Actor("olga", "oidc", Role.OPERATOR, email="olga@example.org")
ADMIN = Actor("adam", "oidc", Role.ADMIN, email="adam@example.org")
SETUP = Actor("setup", "cli", Role.ADMIN)  # arranges each test's state


@dataclass
class Room:
    """The control room's managers over one database and fakes of the other systems."""

    engine: Engine
    dataset: DatasetManager
    inference: InferenceManager
    registry: RegistryManager
    prefect: PrefectManager
    predictions: PredictionManager
    services: DockerServiceManager
    store: FakeModelStore
    runner: FakeFlowRunner
    containers: FakeContainerEngine

    def state(self) -> tuple[Any, ...]:
        """Everything a refused action must leave as it was."""
        with self.engine.connect() as conn:
            status = queries.dataset_status(conn)
            counts = [
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (load_history, promotion_log, prediction_feedback)
            ]
        calls = {n: tuple(c.calls) for n, c in self.containers.all.items()}
        return (
            status.revision,
            status.loaded_rows,
            *counts,
            dict(self.store.aliases),
            len(self.runner.triggered),
            set(self.runner.paused),
            calls,
        )


@pytest.fixture
def room(engine: Engine, catalogue: pd.DataFrame, tmp_path: Path) -> Iterator[Room]:
    settings = Settings(var_dir=tmp_path, database_url=str(engine.url))
    audit = SqlAuditLog(engine)
    store, runner, containers = FakeModelStore(), FakeFlowRunner(), FakeContainerEngine()
    database = Database(engine)
    import_products(engine, catalogue, source="test", holdout_fraction=0.15, seed=7, actor=SETUP)
    loading.initialize(engine, 4_000, SETUP)
    for score in (0.80, 0.85, 0.90):
        store.add_run(score)
    registry = RegistryManager(store, FakePredictor(engine), engine, 0.0)
    registry.promote(1, SETUP)
    registry.promote(2, SETUP)  # v1 to roll back to; v3 passes the gate
    yield Room(
        engine,
        DatasetManager(database, settings),
        InferenceManager(database),
        registry,
        PrefectManager(runner, audit),
        PredictionManager(FakePredictor(engine), audit=audit),
        DockerServiceManager(containers, audit),
        store,
        runner,
        containers,
    )


ONE_PRODUCT = pd.DataFrame({"designation": ["Console de jeux"], "description": [""]})
# method → (least role, the call); each is the page's way of taking the action.
CASES: dict[str, tuple[Role, Callable[[Room, Actor], object]]] = {
    "import into a database that has data (replace)": (
        Role.ADMIN,
        lambda r, a: r.dataset.import_builtin(1_000, actor=a, replace=True),
    ),
    "initialize": (Role.OPERATOR, lambda r, a: r.dataset.initialize(a)),
    "load next batch": (Role.OPERATOR, lambda r, a: r.dataset.load_next_batch(a)),
    "reset": (Role.ADMIN, lambda r, a: r.dataset.reset(a)),
    "feedback": (Role.OPERATOR, lambda r, a: r.inference.record_feedback("req-1", 10, a)),
    "promote (gate passes)": (Role.OPERATOR, lambda r, a: r.registry.promote(3, a)),
    "force a promotion": (Role.ADMIN, lambda r, a: r.registry.promote(3, a, "urgent fix")),
    "roll back": (Role.ADMIN, lambda r, a: r.registry.rollback(a)),
    "train": (Role.OPERATOR, lambda r, a: r.prefect.trigger(TRAIN_DEPLOYMENT, {}, a)),
    "monitor": (Role.OPERATOR, lambda r, a: r.prefect.trigger(MONITOR_DEPLOYMENT, {}, a)),
    "load data flow": (
        Role.OPERATOR,
        lambda r, a: r.prefect.trigger(LOAD_DATA_DEPLOYMENT, {"action": "next_batch"}, a),
    ),
    "pause a schedule": (Role.ADMIN, lambda r, a: r.prefect.set_paused(TRAIN_DEPLOYMENT, True, a)),
    "simulated traffic": (Role.OPERATOR, lambda r, a: r.predictions.send_traffic(ONE_PRODUCT, a)),
    "restart a service": (Role.OPERATOR, lambda r, a: r.services.restart("api", a, wait=0)),
    "start a service": (Role.ADMIN, lambda r, a: r.services.start("api", a, wait=0)),
    "stop a service": (Role.ADMIN, lambda r, a: r.services.stop("api", a)),
}
SHORT = [
    pytest.param(name, actor, id=f"{name}-{actor.role}")
    for name, (least, _) in CASES.items()
    for actor in (VIEWER, OPERATOR)
    if actor.role == Role.VIEWER or least == Role.ADMIN
]


@pytest.mark.parametrize(("name", "actor"), SHORT)
def test_a_short_role_is_refused_changes_nothing_and_is_audited(
    room: Room, name: str, actor: Actor
) -> None:
    least, call = CASES[name]
    before = room.state()
    with pytest.raises(Forbidden, match=f"needs the {least.value} role"):
        call(room, actor)
    assert room.state() == before
    with room.engine.connect() as conn:
        rows = audit_entries(conn, person=actor.subject)
    assert list(rows["outcome"]) == ["refused"]
    assert rows["message"].iloc[0] == f"needs the {least.value} role"
    assert rows["email"].iloc[0] == actor.email and rows["role"].iloc[0] == actor.role.value


@pytest.mark.parametrize("name", list(CASES))
def test_the_least_role_may_and_it_is_audited_as_done(room: Room, name: str) -> None:
    least, call = CASES[name]
    actor = OPERATOR if least == Role.OPERATOR else ADMIN
    call(room, actor)
    with room.engine.connect() as conn:
        rows = audit_entries(conn, person=actor.subject)
    assert list(rows["outcome"]) == ["done"], rows.to_dict("records")


def test_a_failed_action_is_audited_with_its_message(room: Room) -> None:
    room.dataset.reset(SETUP)
    with pytest.raises(Exception, match="Initialize first"):
        room.dataset.load_next_batch(OPERATOR)
    with room.engine.connect() as conn:
        rows = audit_entries(conn, person="olga", outcome="failed")
    assert list(rows["action"]) == [Action.LOAD_NEXT_BATCH.value]
    assert "Initialize first" in rows["message"].iloc[0]


def test_the_use_cases_refuse_too_for_the_cli_and_the_flows(room: Room) -> None:
    with pytest.raises(PermissionDenied):
        loading.reset(room.engine, OPERATOR)
    with room.engine.connect() as conn:
        assert list(audit_entries(conn, action="reset", outcome="refused")["subject"]) == ["olga"]


def test_the_audit_trail_is_filtered_by_person_action_outcome_and_time(room: Room) -> None:
    with pytest.raises(Forbidden):
        room.dataset.reset(VIEWER)
    room.dataset.load_next_batch(OPERATOR)
    with room.engine.connect() as conn:
        everything = audit_entries(conn)
        mine = audit_entries(conn, person="OLGA@example")
        refused = audit_entries(conn, outcome="refused")
        later = audit_entries(conn, since=datetime.now(UTC) + timedelta(minutes=1))
    # The fixture's own import, initialize and promotion are there too, newest first.
    assert list(everything["action"][:2]) == ["load_next_batch", "reset"]
    assert {"import_data", "initialize", "promote"} <= set(everything["action"])
    assert list(mine["action"]) == ["load_next_batch"]
    assert list(refused["subject"]) == ["ann"]
    assert later.empty
    assert "token" not in " ".join(everything["parameters"])


def test_roles_are_assigned_by_admins_and_resolved_assignment_first(room: Room) -> None:
    engine = room.engine
    with pytest.raises(PermissionDenied):
        assign_role(engine, "ann@example.org", Role.ADMIN, OPERATOR)
    assert role_for(engine, None, "ann", "ann@example.org", Role.VIEWER) == Role.VIEWER
    assert role_for(engine, Role.OPERATOR, "ann", "ann@example.org", Role.VIEWER) == Role.OPERATOR
    assign_role(engine, "Ann@Example.org ", Role.OPERATOR, ADMIN)
    assert role_for(engine, None, "ann", "ann@example.org", Role.VIEWER) == Role.OPERATOR
    assign_role(engine, "ann", Role.VIEWER, ADMIN)  # by subject, ahead of the email
    assert role_for(engine, Role.ADMIN, "ann", "ann@example.org", Role.VIEWER) == Role.VIEWER
    with engine.connect() as conn:
        table = role_assignments_frame(conn)
        audited = audit_entries(conn, action="manage_roles")
    assert list(table["principal"]) == ["ann", "ann@example.org"]
    assert set(table["assigned_by"]) == {ADMIN.label}
    assert list(audited["outcome"]) == ["done", "done", "refused"]


def test_removing_an_assignment_gives_the_claim_back_and_is_audited(engine: Engine) -> None:
    assign_role(engine, "Ann@Example.org", Role.ADMIN, ADMIN)
    assert role_for(engine, Role.OPERATOR, "ann", "ann@example.org", Role.VIEWER) == Role.ADMIN
    with pytest.raises(PermissionDenied):
        revoke_role(engine, "ann@example.org", OPERATOR)
    assert revoke_role(engine, " ANN@example.org", ADMIN) == Role.ADMIN
    assert role_for(engine, Role.OPERATOR, "ann", "ann@example.org", Role.VIEWER) == Role.OPERATOR
    assert role_for(engine, None, "ann", "ann@example.org", Role.VIEWER) == Role.VIEWER
    with pytest.raises(ValueError, match="ann@example.org has no assignment to remove"):
        revoke_role(engine, "ann@example.org", ADMIN)
    with engine.connect() as conn:
        assert role_assignments_frame(conn).empty
        rows = audit_entries(conn, action="manage_roles")
    assert rows[["subject", "outcome", "parameters"]].values.tolist() == [
        ["adam", "failed", '{"change": "remove"}'],
        ["adam", "done", '{"change": "remove"}'],
        ["olga", "refused", '{"change": "remove"}'],
        ["adam", "done", '{"role": "admin"}'],
    ]
