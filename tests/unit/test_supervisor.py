"""The local supervisor with real processes: start, health, refusal on a taken port, stop."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from core.local_stack import local_services
from core.processes import alive
from core.settings import Settings
from core.supervisor import ServiceSpec, Supervisor, SupervisorError
from tests.ports import free_port


def http_service(port: int) -> ServiceSpec:
    # A parent that starts a child: stopping must end both (the whole process group).
    script = (
        "import subprocess, sys; "
        f"subprocess.Popen([sys.executable, '-m', 'http.server', '{port}', '--bind', '127.0.0.1']);"
        "import time; time.sleep(600)"
    )
    return ServiceSpec(
        "web",
        "Test web server",
        [sys.executable, "-c", script],
        url=f"http://127.0.0.1:{port}",
        health_url=f"http://127.0.0.1:{port}/",
        setting="RAKUTEN_TEST_PORT",
    )


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_start_health_stop_ends_the_whole_group(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, [http_service(free_port())])
    status = supervisor.start("web")
    assert status.running and status.pid
    healthy = supervisor.wait_healthy("web", timeout=30)
    assert healthy.healthy and (tmp_path / "run" / "web.pid").exists()
    assert supervisor.start("web").pid == status.pid  # already running: not started twice
    kids = children(status.pid)
    assert kids
    supervisor.stop("web")  # returns once the whole group is gone
    assert not alive(status.pid) and not any(alive(k) for k in kids)
    assert not supervisor.status("web").running
    assert "starting web" in supervisor.log_tail("web")


def test_a_taken_port_is_refused_with_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        spec = http_service(taken.getsockname()[1])
        with pytest.raises(SupervisorError, match=r"Port \d+ .* is taken .* RAKUTEN_TEST_PORT"):
            Supervisor(tmp_path, [spec]).start("web")


def test_a_service_that_dies_reports_its_log(tmp_path: Path) -> None:
    spec = ServiceSpec(
        "bad",
        "Crashing",
        [sys.executable, "-c", "raise SystemExit('boom')"],
        health_url="http://127.0.0.1:1/",
    )
    supervisor = Supervisor(tmp_path, [spec])
    supervisor.start("bad")
    with pytest.raises(SupervisorError, match="(?s)bad exited.*boom"):
        supervisor.wait_healthy("bad", timeout=30)


def test_a_stale_pid_file_counts_as_stopped(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "web.pid").write_text("999999")
    assert not Supervisor(tmp_path, [http_service(free_port())]).status("web").running


def test_local_services_follow_the_settings(tmp_path: Path) -> None:
    local = Settings(var_dir=tmp_path, mlflow_tracking_uri="http://127.0.0.1:5123")
    names = [s.name for s in local_services(local)]
    assert names == ["mlflow", "prefect", "worker", "api", "app"]
    mlflow = local_services(local)[0]
    assert "--port" in mlflow.command and "5123" in mlflow.command
    assert str(tmp_path / "mlflow" / "mlflow.db") in " ".join(mlflow.command)
    remote = Settings(
        var_dir=tmp_path,
        mlflow_tracking_uri="http://mlflow:5000",
        prefect_api_url="http://prefect:4200/api",
        api_url="http://api:8000",
    )
    assert [s.name for s in local_services(remote)] == ["worker", "app"]
    assert all(
        s.env["PREFECT_API_URL"] == "http://prefect:4200/api" for s in local_services(remote)
    )


def test_local_mode_shares_one_api_token_between_the_api_and_the_app(tmp_path: Path) -> None:
    specs = {s.name: s for s in local_services(Settings(var_dir=tmp_path))}
    token = specs["api"].env["RAKUTEN_API_TOKEN"]
    assert len(token) >= 24 and specs["app"].env["RAKUTEN_API_TOKEN"] == token
    assert (tmp_path / "run" / "api.token").stat().st_mode & 0o077 == 0  # only the owner reads it
    again = {s.name: s for s in local_services(Settings(var_dir=tmp_path))}
    assert again["api"].env["RAKUTEN_API_TOKEN"] == token  # `up api` then `up app` agree
    chosen = local_services(Settings(var_dir=tmp_path, api_token="chosen"))
    assert {s.env["RAKUTEN_API_TOKEN"] for s in chosen} == {"chosen"}


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    """After a crash or reboot the PID in the file may belong to someone else (here: pytest)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "web.pid").write_text(f"{os.getpid()} 12345")  # wrong start time
    supervisor = Supervisor(tmp_path, [http_service(free_port())])
    assert not supervisor.status("web").running
    supervisor.stop("web")  # must not signal this test process
    assert alive(os.getpid())
