"""PrometheusManager against a stand-in Prometheus HTTP API on 127.0.0.1 (the real server is
tested with the stack's issue): its queries, its parsing, and its errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from app.managers.errors import ManagerError, ServiceUnavailable
from app.managers.prometheus import PrometheusManager
from tests.ports import free_port

SEEN: list[str] = []


class FakePrometheus(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)["query"][0]
        SEEN.append(query)
        if "broken" in query:
            body = {"status": "error", "error": "parse error at char 3"}
        elif url.path.endswith("query_range"):
            value = "0.5" if "histogram_quantile" not in query else "0.004"
            value = "NaN" if "5.." in query else value
            body = {
                "status": "success",
                "data": {
                    "result": [
                        {"metric": {}, "values": [[1_800_000_000, value], [1_800_000_015, value]]}
                    ]
                },
            }
        else:
            body = {
                "status": "success",
                "data": {
                    "result": [
                        {
                            "metric": {"category": "Pools & accessories"},
                            "value": [1_800_000_000, "12"],
                        },
                        {"metric": {"category": "Used books"}, "value": [1_800_000_000, "0"]},
                    ]
                },
            }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakePrometheus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_health_history_and_predictions_by_class(prometheus: str) -> None:
    manager = PrometheusManager(prometheus)
    history = manager.health_history(minutes=5)
    assert list(history.columns) == ["at", "request_rate", "p95_ms", "error_rate"]
    assert len(history) == 2 and (history.request_rate == 0.5).all()
    assert (history.p95_ms == 0.004).all() and history.error_rate.isna().all()  # 0/0 → NaN
    assert any("rakuten_api_request_duration_seconds_bucket" in q for q in SEEN)
    assert manager.predictions_by_class() == {"Pools & accessories": 12.0}


def test_errors_name_the_server_and_the_way_out(prometheus: str) -> None:
    with pytest.raises(ManagerError, match="Prometheus refused the query: parse error"):
        PrometheusManager(prometheus)._query("query", query="broken")
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match=f"not reachable at {down}.*RAKUTEN_PROMETHEUS"):
        PrometheusManager(down).predictions_by_class()
