"""PrefectRest retries Prefect's 503 ("busy, retry me": nothing was written) and only that; a
server that does not answer is waited for once, then remembered for a cooldown, then probed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from core.adapters.errors import Unreachable
from core.adapters.flows import PrefectRest
from tests.tcp_proxy import TcpProxy

FAST = 0.25  # s: a call that fails at once, without waiting for an answer (CI is noisy)


class _Busy(BaseHTTPRequestHandler):
    """Answers 503 ``busy`` times, then a run's logs; its health check answers ``true``."""

    busy = 0
    calls = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(b"true", 200)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        if type(self).calls <= type(self).busy:
            self._answer(b'{"exception_message": "Service Unavailable"}', 503)
        else:
            line = {"timestamp": "2026-01-01T00:00:00+00:00", "level": 20, "message": "Fitted"}
            self._answer(json.dumps([line]).encode(), 200)

    def _answer(self, body: bytes, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def prefect() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Busy.calls, _Busy.busy = 0, 0
    try:
        yield f"http://127.0.0.1:{server.server_port}/api"
    finally:
        server.shutdown()


@pytest.fixture
def proxy(prefect: str) -> Iterator[TcpProxy]:
    """Between the client and the server, to break on purpose."""
    with TcpProxy(urlsplit(prefect).port or 0) as between:
        yield between


def through(
    proxy: TcpProxy, timeout: float, probe_timeout: float = 2.0, cooldown: float = 60.0
) -> PrefectRest:
    url = f"http://127.0.0.1:{proxy.port}/api"
    return PrefectRest(url, timeout, probe_timeout=probe_timeout, cooldown=cooldown)


def timed_failure(call, *args: str) -> tuple[float, str]:
    """How long ``call(*args)`` took to raise :class:`Unreachable`, and its message."""
    start = time.monotonic()
    with pytest.raises(Unreachable) as caught:
        call(*args)
    return time.monotonic() - start, str(caught.value)


def test_a_busy_answer_is_asked_again(prefect: str) -> None:
    _Busy.busy = 2
    assert [line.message for line in PrefectRest(prefect).logs("r1")] == ["Fitted"]
    assert _Busy.calls == 3


def test_a_server_that_stays_busy_is_reported(prefect: str) -> None:
    _Busy.busy = 10
    with pytest.raises(Unreachable, match="answered 503"):
        PrefectRest(prefect).logs("r1")
    assert _Busy.calls == 3


@pytest.mark.parametrize("mode", ["stall", "blackhole"])
def test_a_hung_server_is_waited_for_once(proxy: TcpProxy, mode) -> None:
    client = through(proxy, timeout=1.0, cooldown=60)
    proxy.set_mode(mode)
    waited, first = timed_failure(client.logs, "r1")
    assert 1.0 <= waited < 1.0 + FAST and "(ReadTimeout)" in first
    for call, args in [(client.logs, ("r1",)), (client.recent_runs, ()), (client.ping, ())]:
        waited, message = timed_failure(call, *args)
        assert waited < FAST, f"{call.__name__} waited {waited:.2f} s for a known-hung server"
        assert message.startswith(first) and "No answer since" in message and "UTC." in message


def test_ping_asks_quickly(proxy: TcpProxy) -> None:
    client = through(proxy, timeout=5.0, probe_timeout=0.3, cooldown=60)
    proxy.set_mode("stall")
    waited, message = timed_failure(client.ping)
    assert 0.3 <= waited < 0.3 + FAST and "Prefect not reachable at" in message
    assert timed_failure(client.logs, "r1")[0] < FAST  # remembered: no 5 s wait after it


def test_after_the_cooldown_one_probe_is_let_through(proxy: TcpProxy) -> None:
    client = through(proxy, timeout=1.0, probe_timeout=0.3, cooldown=0.5)
    proxy.set_mode("stall")
    timed_failure(client.logs, "r1")
    time.sleep(0.5)
    waited, _ = timed_failure(client.logs, "r1")  # the probe: its own short timeout, not 1 s
    assert 0.3 <= waited < 0.3 + FAST
    assert timed_failure(client.logs, "r1")[0] < FAST  # the probe failed: remembered again
    proxy.set_mode("pass")
    time.sleep(0.5)
    assert [line.message for line in client.logs("r1")] == ["Fitted"]
    assert [line.message for line in client.logs("r1")] == ["Fitted"]  # closed again


def test_while_one_caller_probes_the_others_fail_fast(proxy: TcpProxy) -> None:
    client = through(proxy, timeout=1.0, probe_timeout=1.0, cooldown=0.3)
    proxy.set_mode("stall")
    timed_failure(client.ping)
    time.sleep(0.3)
    probed: list[float] = []
    probe = threading.Thread(target=lambda: probed.append(timed_failure(client.ping)[0]))
    probe.start()
    time.sleep(0.1)  # the thread is now waiting for the health check's answer
    assert timed_failure(client.recent_runs)[0] < FAST
    probe.join()
    assert probed and probed[0] >= 1.0  # the one let through did wait for its probe


def test_a_refused_connection_is_not_remembered(proxy: TcpProxy) -> None:
    client = through(proxy, timeout=5.0, cooldown=60)
    proxy.set_mode("refuse")
    for _ in range(3):
        waited, message = timed_failure(client.logs, "r1")
        assert waited < FAST and "Prefect not reachable at" in message
        assert "No answer since" not in message
    proxy.set_mode("pass")  # started again: seen at once, not after the cooldown
    assert [line.message for line in client.logs("r1")] == ["Fitted"]
