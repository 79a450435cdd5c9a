"""PrefectRest retries Prefect's 503 ("busy, retry me": nothing was written) and only that."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.adapters.errors import Unreachable
from core.adapters.flows import PrefectRest


class _Busy(BaseHTTPRequestHandler):
    """Answers 503 ``busy`` times, then a run's logs."""

    busy = 0
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        if type(self).calls <= type(self).busy:
            body, status = b'{"exception_message": "Service Unavailable"}', 503
        else:
            line = {"timestamp": "2026-01-01T00:00:00+00:00", "level": 20, "message": "Fitted"}
            body, status = json.dumps([line]).encode(), 200
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
    _Busy.calls = 0
    try:
        yield f"http://127.0.0.1:{server.server_port}/api"
    finally:
        server.shutdown()


def test_a_busy_answer_is_asked_again(prefect: str) -> None:
    _Busy.busy = 2
    assert [line.message for line in PrefectRest(prefect).logs("r1")] == ["Fitted"]
    assert _Busy.calls == 3


def test_a_server_that_stays_busy_is_reported(prefect: str) -> None:
    _Busy.busy = 10
    with pytest.raises(Unreachable, match="answered 503"):
        PrefectRest(prefect).logs("r1")
    assert _Busy.calls == 3
