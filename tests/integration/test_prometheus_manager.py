"""The Prometheus adapter and its manager against a stand-in Prometheus HTTP API on 127.0.0.1 (the
real server is tested in tests/api/test_prometheus_scrape.py): the queries, their parsing, and
the errors, as the adapter raises them and as the manager words them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.managers.errors import ManagerError, Rejected, ServiceUnavailable
from app.managers.prometheus import PrometheusManager
from core.adapters.errors import AdapterError, Refused, Unreachable
from core.adapters.prometheus import PrometheusHttp
from tests.ports import free_port

SEEN: list[str] = []


class StandIn(BaseHTTPRequestHandler):
    answer = "ok"  # ok | refuse (a PromQL error) | html (not Prometheus' JSON)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)["query"][0]
        SEEN.append(query)
        if StandIn.answer == "html":
            self._send(502, b"<html>Bad gateway</html>", "text/html")
            return
        body: dict[str, Any]
        if StandIn.answer == "refuse":
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
        self._send(200, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def answer() -> Iterator[None]:
    yield
    StandIn.answer = "ok"


def test_health_history_and_predictions_by_class(prometheus: str) -> None:
    adapter = PrometheusHttp(prometheus)
    history = adapter.health_history(minutes=5)
    assert len(history) == 2 and [p.request_rate for p in history] == [0.5, 0.5]
    assert [p.p95_ms for p in history] == [0.004, 0.004]
    assert [p.error_rate for p in history] == [None, None]  # 0/0 → NaN → no value
    assert history[0].at < history[1].at
    assert any("rakuten_api_request_duration_seconds_bucket" in q for q in SEEN)
    assert adapter.predictions_by_class() == {"Pools & accessories": 12.0}


def test_the_manager_answers_with_the_service_health_record(prometheus: str) -> None:
    health = PrometheusManager(PrometheusHttp(prometheus)).service_health(minutes=5)
    assert len(health.points) == 2 and health.points[-1].request_rate == 0.5
    assert health.predictions == {"Pools & accessories": 12.0}
    assert health.prometheus_url == prometheus and health.minutes == 5


def test_errors_name_the_server_and_the_way_out(prometheus: str, answer: None) -> None:
    StandIn.answer = "refuse"
    with pytest.raises(Refused, match="Prometheus refused the query: parse error"):
        PrometheusHttp(prometheus).predictions_by_class()
    with pytest.raises(Rejected, match="Prometheus refused the query: parse error"):
        PrometheusManager(PrometheusHttp(prometheus)).service_health()
    StandIn.answer = "html"
    with pytest.raises(AdapterError, match=f"Prometheus at {prometheus} answered 502"):
        PrometheusHttp(prometheus).health_history()
    with pytest.raises(ManagerError, match=f"Prometheus at {prometheus} answered 502"):
        PrometheusManager(PrometheusHttp(prometheus)).service_health()
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unreachable, match=f"Prometheus not reachable at {down}"):
        PrometheusHttp(down).predictions_by_class()
    with pytest.raises(ServiceUnavailable, match=f"not reachable at {down}.*RAKUTEN_PROMETHEUS"):
        PrometheusManager(PrometheusHttp(down)).service_health()
