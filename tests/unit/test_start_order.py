"""Services start in dependency order, each once what it needs is healthy (real processes)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from core.local_stack import local_services
from core.settings import Settings
from core.supervisor import ServiceSpec, Supervisor, SupervisorError
from tests.ports import free_port


def slow_server(name: str, port: int, delay: float) -> ServiceSpec:
    """Like the Prefect server: healthy only after it has started up for a while."""
    script = (
        f"import time, http.server; time.sleep({delay}); "
        f"http.server.test(http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    )
    return ServiceSpec(
        name,
        f"Server {name}",
        [sys.executable, "-c", script],
        url=f"http://127.0.0.1:{port}",
        health_url=f"http://127.0.0.1:{port}/",
    )


def client(name: str, port: int, needs: tuple[str, ...]) -> ServiceSpec:
    """Like the flows worker: dies at once when the server it needs does not answer yet."""
    script = (
        "import socket, sys, time; "
        f"socket.create_connection(('127.0.0.1', {port}), timeout=1).close(); "
        "print('connected', flush=True); time.sleep(60)"
    )
    return ServiceSpec(name, f"Client {name}", [sys.executable, "-c", script], needs=needs)


@pytest.fixture
def supervisor(tmp_path: Path):
    made: list[Supervisor] = []

    def make(*specs: ServiceSpec) -> Supervisor:
        made.append(Supervisor(tmp_path, specs))
        return made[-1]

    yield make
    for each in made:
        for name in reversed(list(each.specs)):
            each.stop(name)


def test_a_dependent_starts_only_once_what_it_needs_is_healthy(supervisor) -> None:
    port = free_port()
    stack = supervisor(slow_server("server", port, delay=1.5), client("worker", port, ("server",)))
    started = stack.start_in_order(["worker"])  # pulls in the server it needs
    assert [s.name for s in started] == ["server", "worker"]
    assert all(s.healthy for s in started)
    deadline = time.monotonic() + 15
    while "connected" not in stack.log_tail("worker") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.running("worker") and "connected" in stack.log_tail("worker")


def test_starting_a_dependent_alone_is_refused_while_its_dependency_is_down(supervisor) -> None:
    port = free_port()
    stack = supervisor(slow_server("server", port, delay=0), client("worker", port, ("server",)))
    with pytest.raises(SupervisorError, match=r"needs the Server server, which is stopped"):
        stack.start("worker")
    assert not stack.running("worker")
    assert not (stack._run_dir / "worker.pid").exists()


def test_a_dependency_that_dies_leaves_its_dependents_unstarted(supervisor) -> None:
    dead = ServiceSpec(
        "server",
        "Server",
        [sys.executable, "-c", "raise SystemExit('no db')"],
        health_url=f"http://127.0.0.1:{free_port()}/",
    )
    stack = supervisor(dead, client("worker", free_port(), ("server",)))
    with pytest.raises(SupervisorError, match=r"(?s)server exited.*no db.*Not started.*worker"):
        stack.start_in_order(["worker"])
    assert not stack.running("worker")


def test_independent_services_of_one_wave_start_side_by_side(supervisor) -> None:
    ports = free_port(), free_port()
    stack = supervisor(
        slow_server("a", ports[0], delay=1.0),
        slow_server("b", ports[1], delay=1.0),
        client("c", ports[0], ("a", "b")),
    )
    assert stack.start_order(["c", "b"]) == [["a", "b"], ["c"]]
    assert stack.start_order(["b"]) == [["b"]]


def test_a_dependency_cycle_is_refused(supervisor) -> None:
    stack = supervisor(client("x", 1, ("y",)), client("y", 1, ("x",)))
    with pytest.raises(SupervisorError, match="depend on each other: x, y"):
        stack.start_order(["x"])


def test_local_services_declare_what_they_need(tmp_path: Path) -> None:
    specs = {s.name: s for s in local_services(Settings(var_dir=tmp_path))}
    assert specs["worker"].needs == ("prefect",)
    # The API and the app start after the servers but are never refused without them: they
    # keep running (and say why) through a server's outage.
    assert specs["api"].needs == () and specs["api"].after == ("mlflow",)
    assert specs["app"].needs == () and specs["app"].after == ("mlflow", "prefect")
    order = Supervisor(tmp_path, list(specs.values())).start_order(list(specs))
    assert order == [["mlflow", "prefect"], ["worker", "api", "app"]]
    remote = Settings(var_dir=tmp_path, prefect_api_url="http://prefect:4200/api")
    stack = Supervisor(tmp_path, local_services(remote))
    assert stack.start_order(["worker"]) == [["worker"]]  # a remote server is not started
