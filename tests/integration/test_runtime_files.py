"""Runtime files hold every prediction and the reload token: only their owner may read them.

Each test runs under the usual umask 022 (files 0644), as a fresh shell would, and checks files
made by the real code paths: the CLI's SQLite database, the supervisor's logs and PID files, a
file written by a supervised process, and an existing install tightened at start.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import local_stack
from core.cli import main as cli_main
from core.settings import REPO_ROOT, get_settings
from core.supervisor import ServiceSpec, Supervisor


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    var = tmp_path / "var"
    monkeypatch.setenv("RAKUTEN_VAR_DIR", str(var))
    monkeypatch.delenv("RAKUTEN_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO_ROOT / "tests")  # no stray .env
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()


def an_existing_install(var: Path) -> list[Path]:
    """World-readable files and folders, as a control room before this fix left them."""
    (var / "logs").mkdir(parents=True, mode=0o755)
    (var / "mlflow" / "artifacts").mkdir(parents=True, mode=0o755)
    files = [var / "logs" / "api.log", var / "mlflow" / "mlflow.db", var / "drift-report.html"]
    for path in files:
        path.write_text("private")
        path.chmod(0o644)
    var.chmod(0o755)
    return files


def test_the_cli_import_creates_a_private_database(var_dir: Path) -> None:
    assert cli_main(["data", "import", "--rows", "300"]) == 0
    assert mode(var_dir) == 0o700
    database = var_dir / "control_room.db"
    assert database.exists()
    for path in var_dir.glob("control_room.db*"):  # with its -wal and -shm while they exist
        assert mode(path) == 0o600, path.name
    assert os.umask(0o022) == 0o022  # the CLI gave the process its umask back


def test_the_cli_tightens_an_existing_install(var_dir: Path) -> None:
    files = an_existing_install(var_dir)
    assert cli_main(["data", "status"]) == 0
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    folders = [var_dir, var_dir / "logs", var_dir / "mlflow", var_dir / "mlflow" / "artifacts"]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}


def test_local_stack_tightens_an_existing_install(
    var_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = an_existing_install(var_dir)
    caplog.set_level(logging.INFO, logger="core.local_stack")
    assert local_stack.main(["status", "worker"]) == 0
    assert "worker" in caplog.text
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(var_dir) == mode(var_dir / "logs") == 0o700


def test_supervised_processes_write_private_files(tmp_path: Path) -> None:
    written = tmp_path / "out" / "report.html"
    written.parent.mkdir()
    script = (
        "import pathlib, sys, time; "
        f"pathlib.Path({str(written)!r}).write_text('secret'); "
        f"pathlib.Path({str(written.parent / 'folder')!r}).mkdir(); "
        "print('written', flush=True); time.sleep(60)"
    )
    var = tmp_path / "var"
    supervisor = Supervisor(var, [ServiceSpec("writer", "Writer", [sys.executable, "-c", script])])
    supervisor.start("writer")
    try:
        for _ in range(100):
            if "written" in supervisor.log_tail("writer"):
                break
            time.sleep(0.1)
        assert mode(written) == 0o600
        assert mode(written.parent / "folder") == 0o700
        assert mode(var / "logs" / "writer.log") == 0o600
        assert mode(var / "run" / "writer.pid") == 0o600
        assert mode(var / "logs") == mode(var / "run") == 0o700
    finally:
        supervisor.stop("writer")
