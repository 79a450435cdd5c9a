"""No page shows a secret: with the API token, the MLflow password and the Prefect auth string
set, every page's every element (text, tables, links, help, the sidebar) and the session state
are free of their values. (The browser suite checks the same against a real `make run`.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from core.settings import Settings
from tests.app.conftest import PAGES, _fresh_caches, run_page

SECRETS = {
    "RAKUTEN_API_TOKEN": "api-token-0f9e8d7c6b5a4f3e",
    "RAKUTEN_MLFLOW_PASSWORD": "mlflow-password-1a2b3c4d5e",
    "RAKUTEN_PREFECT_AUTH_STRING": "control-room:prefect-9z8y7x6w",
}


@pytest.fixture
def with_secrets(app_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAKUTEN_MLFLOW_USERNAME", "control-room")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    _fresh_caches()
    return app_settings


def nodes(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from nodes(child)


def rendered(at: AppTest) -> bytes:
    """Everything the page sent to the browser, and what it keeps in the session state."""
    protos = [p.SerializeToString() for n in nodes(at._tree) if (p := getattr(n, "proto", None))]
    state = [repr(at.session_state[key]).encode() for key in at.session_state]
    return b"\n".join([*protos, *state])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_page_shows_a_secret(with_secrets: Settings, page: Path) -> None:
    at = run_page(page)
    assert not at.exception
    shown = rendered(at)
    assert b"local admin" in shown  # the page did render (its sidebar at least)
    assert [name for name, value in SECRETS.items() if value.encode() in shown] == []
