"""PostgreSQL cut in the middle of Import, Initialize and Load next batch (issue 15).

Each action runs through the Dataset page's manager on an engine behind a TCP proxy the test owns;
an SQLAlchemy event breaks the proxy at a chosen statement of the action's transaction, or just
before its COMMIT. The action must fail with the page's readable message, leave every table it
touches exactly as it was (read through a direct engine, not the proxy), and the same call must
succeed once the proxy passes again, with the outcome of a run that was never cut.

The audit trail lives in that same database. A failed attempt is written ``failed`` when the
database can take the row (a connection reset once, then working again); while the database stays
unreachable the row cannot be written and is reported in the process log instead. Either way the
attempt is never recorded as done, and the successful retry writes its own ``done`` row.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url

from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.errors import ManagerError, ServiceUnavailable
from core.access import Action, Actor
from core.data.synthetic import generate_catalogue
from core.db.engine import ANSWER_TIMEOUT_S, describe, ensure_schema, make_engine
from core.db.tables import (
    audit_log,
    dataset,
    holdout_products,
    load_history,
    loaded_products,
    metadata,
    source_pool,
)
from core.settings import Settings
from core.usecases import dataset as usecases
from tests.conftest import fresh_pg_database
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

ADMIN = Actor.local_admin()
ANSWER_S = 1.0  # how long the proxied engine waits for an answer (the app's default is 20 s)
RESCUE_S = 30.0  # see breaking()
PROXY_POLL_S = 0.2  # more than the TcpProxy's 50 ms poll: a new mode then holds every byte
ROWS, REPLACE_ROWS = 3_000, 2_000
GENERATED = functools.cache(lambda rows, seed: generate_catalogue(rows, seed=seed))
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|COPY|LOCK)\b|\[SQL|Traceback")

# What each action needs done first, and the action itself (as the page calls it).
ARRANGE: dict[str, Callable[[DatasetManager], object]] = {
    "import": lambda m: None,
    "import_replace": lambda m: (m.import_builtin(ROWS, actor=ADMIN), m.initialize(ADMIN)),
    "initialize": lambda m: m.import_builtin(ROWS, actor=ADMIN),
    "next_batch": lambda m: (m.import_builtin(ROWS, actor=ADMIN), m.initialize(ADMIN)),
}
ACT: dict[str, Callable[[DatasetManager], Any]] = {
    "import": lambda m: m.import_builtin(ROWS, actor=ADMIN),
    "import_replace": lambda m: m.import_builtin(REPLACE_ROWS, actor=ADMIN, replace=True),
    "initialize": lambda m: m.initialize(ADMIN),
    "next_batch": lambda m: m.load_next_batch(ADMIN, expected_bp=4_000),
}
AUDITED = {
    "import": Action.IMPORT_DATA,
    "import_replace": Action.REPLACE_DATA,
    "initialize": Action.INITIALIZE,
    "next_batch": Action.LOAD_NEXT_BATCH,
}


@dataclasses.dataclass(frozen=True)
class Cut:
    """The proxy breaks (``refuse``: down until it passes again; ``reset``: one reset of every
    connection; ``stall``: nothing answers) at the first statement that starts with ``at``, or
    right after it (``after``), or just before the COMMIT is sent (``at="COMMIT"``)."""

    at: str
    mode: Literal["refuse", "reset", "stall"] = "refuse"
    after: bool = False


CASES = [
    # The pool's COPY is the first thing after the last DELETE: the cut lands in the bulk insert.
    pytest.param("import", Cut("DELETE FROM dataset", after=True), id="import-during-copy"),
    pytest.param("import_replace", Cut("INSERT INTO dataset"), id="replace-after-copies"),
    pytest.param("import_replace", Cut("COMMIT"), id="replace-before-commit"),
    pytest.param("initialize", Cut("INSERT INTO loaded_products"), id="initialize-bulk-insert"),
    pytest.param("initialize", Cut("COMMIT", mode="reset"), id="initialize-reset-at-commit"),
    pytest.param("next_batch", Cut("UPDATE load_history"), id="next-batch-last-statement"),
    pytest.param("next_batch", Cut("COMMIT"), id="next-batch-before-commit"),
    pytest.param(
        "import_replace",
        Cut("DELETE FROM dataset", mode="stall", after=True),
        id="replace-stalls-during-copy",
    ),
    pytest.param(
        "next_batch", Cut("INSERT INTO loaded_products", mode="stall"), id="next-batch-stalls"
    ),
]


@pytest.fixture(autouse=True)
def generate_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each built-in catalogue is generated once: it is deterministic, and slow."""
    monkeypatch.setattr(
        usecases, "generate_catalogue", lambda rows, seed: GENERATED(rows, seed).copy()
    )


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database("rakuten_cut") as url:
        yield url


@pytest.fixture
def direct(pg_url: str) -> Iterator[Engine]:
    """An empty schema, and an engine that reaches it without the proxy."""
    engine = make_engine(pg_url)
    metadata.drop_all(engine)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(make_url(pg_url).port or 5432) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def never_cut(pg_url: str) -> Callable[[str], tuple[Any, dict[str, Any]]]:
    """The result and the data of each action in a run that is never cut (computed once)."""
    outcomes: dict[str, tuple[Any, dict[str, Any]]] = {}

    def outcome(action: str) -> tuple[Any, dict[str, Any]]:
        if action not in outcomes:
            with fresh_pg_database("rakuten_uncut") as url:
                with managed(url) as (manager, engine):
                    ARRANGE[action](manager)
                    outcomes[action] = (comparable(ACT[action](manager)), snapshot(engine))
        return outcomes[action]

    return outcome


@pytest.mark.parametrize(("action", "cut"), CASES)
def test_a_cut_fails_readably_changes_nothing_and_the_same_click_then_succeeds(
    action: str,
    cut: Cut,
    direct: Engine,
    proxy: TcpProxy,
    pg_url: str,
    never_cut: Callable[[str], tuple[Any, dict[str, Any]]],
) -> None:
    with managed(proxy.url(pg_url), answer_timeout=ANSWER_S) as (manager, engine):
        ARRANGE[action](manager)
        before = snapshot(direct)
        with breaking(engine, proxy, cut) as fired:
            started = time.monotonic()
            with pytest.raises(ManagerError) as failure:
                ACT[action](manager)
            elapsed = time.monotonic() - started
        assert fired, f"the cut at {cut.at!r} never happened: the action changed its statements"
        assert_readable(failure.value, engine)
        if cut.mode == "stall":
            # The statement waits ANSWER_S; the audit's new connection its connect timeout (3 s).
            assert elapsed < ANSWER_S + 3 + 4, f"a stalled database held the action {elapsed:.1f} s"
            assert f"no answer from the server within {ANSWER_S:g} s" in str(failure.value)

        after = snapshot(direct)
        failed = [(AUDITED[action].value, "failed")] if cut.mode == "reset" else []
        assert data(after) == data(before)
        assert after["audit"] == before["audit"] + failed
        if failed:  # the row says why, in the driver's words
            assert "server closed the connection" in latest_audit_message(direct)

        proxy.set_mode("pass")
        result = ACT[action](manager)  # the same click, once the database is back

    expected_result, expected = never_cut(action)
    assert comparable(result) == expected_result
    final = snapshot(direct)
    assert data(final) == data(expected)
    assert final["audit"] == after["audit"] + [(AUDITED[action].value, "done")]


def test_a_commit_lost_in_a_stall_may_still_land_and_the_same_click_is_then_a_no_op(
    direct: Engine,
    proxy: TcpProxy,
    pg_url: str,
    never_cut: Callable[[str], tuple[Any, dict[str, Any]]],
) -> None:
    """The one window no client can close: the COMMIT was sent, its answer never came. The
    proxy held it and delivers it when it passes again, so the load did happen although the
    click failed; clicking again (with the stage the page showed) then loads nothing more."""
    with managed(proxy.url(pg_url), answer_timeout=ANSWER_S) as (manager, engine):
        ARRANGE["next_batch"](manager)
        with breaking(engine, proxy, Cut("COMMIT", mode="stall")) as fired:
            with pytest.raises(ServiceUnavailable, match="no answer from the server"):
                ACT["next_batch"](manager)
        assert fired
        proxy.set_mode("pass")
        again = ACT["next_batch"](manager)
    assert again.rows == 0 and "moved on from 40 % meanwhile" in again.message
    final, expected = snapshot(direct), never_cut("next_batch")[1]
    assert (final["loaded"], final["history"]) == (expected["loaded"], expected["history"])


def test_the_app_engine_bounds_every_answer_by_default(pg_url: str) -> None:
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.answer_timeout == ANSWER_TIMEOUT_S  # type: ignore[union-attr]
    engine.dispose()


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def managed(url: str, **engine_options: Any) -> Iterator[tuple[DatasetManager, Engine]]:
    """The Dataset page's manager on ``url``, as the app builds it."""
    engine = make_engine(url, **engine_options)
    try:
        yield DatasetManager(Database(engine), Settings(database_url=url)), engine
    finally:
        engine.dispose()


@contextmanager
def breaking(engine: Engine, proxy: TcpProxy, cut: Cut) -> Iterator[list[bool]]:
    """Break ``proxy`` once, where ``cut`` says, while the block runs; yields whether it did."""
    fired: list[bool] = []

    def fire() -> None:
        if not fired:
            fired.append(True)
            proxy.reset() if cut.mode == "reset" else proxy.set_mode(cut.mode)
            if cut.mode == "stall":  # a pump already waiting forwards one more chunk: let it pass
                time.sleep(PROXY_POLL_S)

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(cut.at):
            fire()

    listener: Callable[..., None] = on_statement
    name = ("after" if cut.after else "before") + "_cursor_execute"
    if cut.at == "COMMIT":
        name, listener = "commit", lambda _conn: fire()
    # Should a stalled call hang after all, a refusal unblocks it: the test then fails on the
    # time it took instead of hanging the suite.
    rescue = threading.Timer(RESCUE_S, proxy.set_mode, ("refuse",))
    event.listen(engine, name, listener)
    rescue.start()
    try:
        yield fired
    finally:
        rescue.cancel()
        event.remove(engine, name, listener)


def assert_readable(error: ManagerError, engine: Engine) -> None:
    text = str(error)
    assert isinstance(error, ServiceUnavailable), f"{type(error).__name__}: {text}"
    assert text.startswith(f"Database not reachable at {describe(engine)} ("), text
    assert "\n" not in text and not SQL.search(text), text


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table an import or a load touches, and the audit trail (ids and times left out)."""
    ds, lh, al = dataset.c, load_history.c, audit_log.c
    queries = {
        "dataset": select(ds.source, ds.pool_rows, ds.holdout_rows, ds.digest, ds.revision),
        "pool": select(func.count()).select_from(source_pool),
        "holdout": select(func.count()).select_from(holdout_products),
        "loaded": select(loaded_products.c.productid).order_by(loaded_products.c.productid),
        "history": select(
            lh.action, lh.rows, lh.cumulative_rows, lh.target_bp, lh.triggered_by
        ).order_by(lh.id),
        "audit": select(al.action, al.outcome).order_by(al.id),
    }
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(query)] for name, query in queries.items()
        }


def data(snap: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in snap.items() if key != "audit"}


def latest_audit_message(engine: Engine) -> str:
    with engine.connect() as conn:
        query = select(audit_log.c.message).order_by(audit_log.c.id.desc()).limit(1)
        return conn.execute(query).scalar_one()


def comparable(result: Any) -> Any:
    """The result without the load's id: PostgreSQL spends sequence values on rolled-back rows."""
    if dataclasses.is_dataclass(result) and hasattr(result, "load_id"):
        return dataclasses.replace(result, load_id=None)  # type: ignore[type-var]
    return result
