"""Backup and restore of the control room's database, SQLite and PostgreSQL, through the CLI."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.exc import OperationalError

from core import promotion
from core.access import Actor, PermissionDenied, Role
from core.access.roles import assign_role
from core.backup import backup_database, restore_database
from core.cli import main
from core.data import loading
from core.data.store import import_products
from core.db.engine import ensure_schema, make_engine
from core.db.tables import metadata
from core.drift_store import DriftRun, DriftSummary, save_drift_run
from core.inference_log import InferenceRecord, record_feedback, write_records
from core.settings import REPO_ROOT, get_settings
from core.shadow.canary import set_canary_share
from core.shadow.records import ShadowRecord, write_shadow_records
from tests.conftest import fresh_pg_database
from tests.fakes_serving import FakeModelStore

ADMIN = Actor("u-adam", "oidc", Role.ADMIN, email="adam@example.org")
OPERATOR = Actor("u-olga", "oidc", Role.OPERATOR)  # no email: a NULL in prediction_feedback
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
# Text a portable format must keep exactly: accents, guillemets, an emoji, quotes, a backslash,
# a newline, a tab, HTML.
TRICKY = 'Château « été » 😀 "42\\" cm\n\t<b>&amp;</b>'
SUMMARY = DriftSummary(
    drift_share=0.44,
    drifted_columns=("predicted_code", "designation"),
    scores={"predicted_code": 0.47, "designation": 0.73},
    threshold=0.3,
    reference_rows=5_000,
    current_rows=2_000,
)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, all columns, in primary-key order; datetimes as aware UTC."""

    def utc(value: Any) -> Any:
        if isinstance(value, datetime):  # SQLite hands back naive UTC
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    with engine.connect() as conn:
        return {
            t.name: [
                tuple(utc(v) for v in row)
                for row in conn.execute(select(t).order_by(*t.primary_key.columns))
            ]
            for t in metadata.sorted_tables
        }


def fill(engine: Engine, catalogue: pd.DataFrame, reports: Path) -> None:
    """Rows in every table, each written by the project's own functions."""
    import_products(
        engine, catalogue.head(1_500), source="test", holdout_fraction=0.15, seed=7, actor=ADMIN
    )
    loading.initialize(engine, 4_000, ADMIN)
    loading.load_next_batch(engine, 300, ADMIN)
    store = FakeModelStore()
    store.add_run(0.80)
    store.add_run(0.85)
    promotion.promote(engine, store, 1, margin=0.0, actor=ADMIN)  # no champion yet: NULL f1
    promotion.promote(engine, store, 2, margin=0.0, actor=ADMIN)
    save_drift_run(engine, reports, DriftRun(SUMMARY, None, None, None, ADMIN), "<html></html>")
    window = (T0, T0 + timedelta(days=1))
    save_drift_run(engine, reports, DriftRun(SUMMARY, *window, 2, ADMIN), "<html></html>")
    write_records(engine, [record(n) for n in range(25)])
    record_feedback(engine, "req-1", 2583, ADMIN)
    record_feedback(engine, "req-2", 10, OPERATOR)
    assign_role(engine, "ana@example.com", Role.OPERATOR, ADMIN)
    shadow = [
        ShadowRecord(f"req-{n}", T0 + timedelta(seconds=n), 3, "challenger", 10, 1 / (n + 3), 0.5)
        for n in range(5)
    ]
    write_shadow_records(engine, shadow)
    set_canary_share(engine, 0.15, ADMIN)


def record(n: int) -> InferenceRecord:
    return InferenceRecord(
        request_id=f"req-{n}",
        at=T0 + timedelta(seconds=n, microseconds=n),
        designation=f"{TRICKY} #{n}",
        description="" if n % 2 else "<p>Piscine ronde</p>",
        predicted_code=2583,
        probability=0.1 + 0.2 if n == 3 else 1 / (n + 1),  # 0.30000000000000004 must stay that
        model_version=2,
        latency_ms=1e-7 * n,
        source="predict" if n % 3 else "batch",
    )


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path):
    """Any CLI command against a database URL: (exit code, what it printed)."""
    monkeypatch.chdir(REPO_ROOT / "tests")  # no stray .env
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(tmp_path / "var"))
    caplog.set_level(logging.INFO, logger="core.cli")

    def command(url: str, *argv: str) -> tuple[int, str]:
        monkeypatch.setenv("RAKUTEN_DATABASE_URL", url)
        get_settings.cache_clear()
        caplog.clear()
        code = main(list(argv))
        return code, "\n".join(caplog.messages)

    yield command
    get_settings.cache_clear()


@pytest.fixture
def filled(engine: Engine, catalogue: pd.DataFrame, tmp_path: Path) -> Engine:
    """The ``engine`` database (each backend) with rows in every table."""
    fill(engine, catalogue, tmp_path / "drift")
    return engine


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own (a restore target), dropped afterwards."""
    with fresh_pg_database("rakuten_restore") as url:
        yield url


def insert_one_more(engine: Engine) -> None:
    """A new row in every table with an autoincrement id: it must take an id past the restored."""
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            column = table.autoincrement_column
            if column is None:
                continue
            last = conn.execute(select(table).order_by(column.desc()).limit(1)).mappings().one()
            values = {k: v for k, v in last.items() if k != column.name}
            values.update({c.name: f"{values[c.name]}-new" for c in table.columns if c.unique})
            new_id = conn.execute(insert(table).values(values)).inserted_primary_key[0]
            assert new_id > last[column.name], table.name


def audit_actions(rows: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    return [(row[6], row[9]) for row in rows]  # (action, outcome)


@pytest.mark.parametrize(
    "target", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_every_table_comes_back_row_by_row(
    filled: Engine, target: str, run, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    before = dump(filled)
    assert all(before.values()), {name: len(rows) for name, rows in before.items()}
    file = tmp_path / "room.backup"
    code, out = run(url_of(filled), "backup", str(file))
    assert code == 0, out
    assert "inference_log 25" in out and "audit_log" in out
    # The backup is audited, after its snapshot: the archive holds the rows of `before`.
    assert audit_actions(dump(filled)["audit_log"])[-1] == ("backup", "done")

    if target == "sqlite":
        target_url = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        target_url = request.getfixturevalue("empty_pg_url")
    code, out = run(target_url, "restore", str(file))
    assert code == 0, out
    assert f"from {filled.dialect.name}" in out

    restored_engine = make_engine(target_url)
    try:
        restored = dump(restored_engine)
        for name, rows in before.items():
            if name == "audit_log":
                assert restored[name][:-1] == rows
                assert audit_actions(restored[name])[-1] == ("restore", "done")
            else:
                assert restored[name] == rows, name
        insert_one_more(restored_engine)
    finally:
        restored_engine.dispose()


def test_a_database_with_rows_is_refused_unless_replace(
    filled: Engine, run, tmp_path: Path
) -> None:
    at_backup = dump(filled)
    file = tmp_path / "room.backup"
    assert run(url_of(filled), "backup", str(file))[0] == 0
    loading.load_next_batch(filled, 300, ADMIN)
    write_records(filled, [record(n) for n in range(100, 110)])
    changed = dump(filled)

    code, out = run(url_of(filled), "restore", str(file))
    assert code == 1 and "is not empty" in out and "--replace" in out
    assert "\n" not in out
    assert dump(filled) == changed  # not even an audit row

    code, out = run(url_of(filled), "restore", str(file), "--replace")
    assert code == 0, out
    replaced = dump(filled)
    assert {n: r for n, r in replaced.items() if n != "audit_log"} == {
        n: r for n, r in at_backup.items() if n != "audit_log"
    }
    assert replaced["audit_log"][:-1] == at_backup["audit_log"]
    insert_one_more(filled)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small backup of a SQLite database."""
    folder = tmp_path_factory.mktemp("archive")
    engine = make_engine(f"sqlite:///{folder / 'source.db'}")
    ensure_schema(engine)
    write_records(engine, [record(n) for n in range(3)])
    assign_role(engine, "ana@example.com", Role.OPERATOR, ADMIN)
    backup_database(engine, folder / "room.backup", actor=ADMIN)
    engine.dispose()
    return folder / "room.backup"


def rewrite(edit: Callable[[dict[str, bytes]], None]) -> Callable[[Path, Path], None]:
    """A damage that rebuilds the zip (valid CRCs) with its members edited."""

    def damage(source: Path, out: Path) -> None:
        with zipfile.ZipFile(source) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        edit(members)
        with zipfile.ZipFile(out, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    return damage


def manifest_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], None]:
    def edit(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()

    return rewrite(edit)


def _tables(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return manifest["tables"]


DAMAGES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "cut short": (
        lambda src, out: out.write_bytes(src.read_bytes()[: src.stat().st_size // 2]),
        "is not a control-room backup, or is cut short",
    ),
    "not a zip": (lambda src, out: out.write_text("id,at\n1,2\n"), "is not a control-room backup"),
    "a changed row": (
        rewrite(
            lambda m: m.update(
                {
                    "tables/inference_log.jsonl": m["tables/inference_log.jsonl"].replace(
                        b"#1", b"#7"
                    )
                }
            )
        ),
        "checksum mismatch in table inference_log",
    ),
    "a newer format": (manifest_edit(lambda m: m.update(version=2)), "format version 2"),
    "another format": (manifest_edit(lambda m: m.update(format="x")), "not a control-room backup"),
    "a missing table": (
        manifest_edit(lambda m: m.update(tables=[t for t in _tables(m) if t["name"] != "dataset"])),
        "lacks the table(s) dataset",
    ),
    "an unknown table": (
        manifest_edit(lambda m: _tables(m).append({**_tables(m)[0], "name": "mystery"})),
        "has unknown table(s) mystery",
    ),
    "no manifest": (rewrite(lambda m: m.pop("manifest.json")), "no manifest.json"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=str)
def test_a_damaged_file_is_refused_and_nothing_changes(
    engine: Engine, archive: Path, damage: str, run, tmp_path: Path
) -> None:
    make, expected = DAMAGES[damage]
    file = tmp_path / "damaged.backup"
    make(archive, file)
    code, out = run(url_of(engine), "restore", str(file))
    assert code == 1
    assert expected in out and str(file) in out and "\n" not in out
    assert not any(dump(engine).values())  # still empty: no rows, no audit row either
    # The same target takes the good file afterwards.
    assert run(url_of(engine), "restore", str(archive))[0] == 0


def test_a_missing_file_or_folder_is_named(engine: Engine, run, tmp_path: Path) -> None:
    code, out = run(url_of(engine), "restore", str(tmp_path / "nope.backup"))
    assert code == 1 and "nope.backup: no such file" in out
    code, out = run(url_of(engine), "backup", str(tmp_path / "no" / "room.backup"))
    assert code == 1 and "does not exist" in out


def test_a_failed_backup_leaves_the_previous_file_and_no_part(tmp_path: Path) -> None:
    no_schema = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    file = tmp_path / "room.backup"
    file.write_bytes(b"the previous backup")
    with pytest.raises(OperationalError):
        backup_database(no_schema, file, actor=ADMIN)
    no_schema.dispose()
    assert file.read_bytes() == b"the previous backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "room.backup"]


def test_only_an_admin_backs_up_or_restores(engine: Engine, archive: Path, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        backup_database(engine, tmp_path / "room.backup", actor=OPERATOR)
    with pytest.raises(PermissionDenied):
        restore_database(engine, archive, actor=OPERATOR)
    assert not (tmp_path / "room.backup").exists()
    rows = dump(engine)
    assert audit_actions(rows["audit_log"]) == [("backup", "refused"), ("restore", "refused")]
    assert not any(r for n, r in rows.items() if n != "audit_log")
