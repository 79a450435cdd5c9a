"""How the many-sessions benchmark times a page (bench/many_sessions_browser.py ``visit``), in
headless Chromium against stand-in pages that flip Streamlit's own markers (``stApp``'s
``data-test-connection-state`` / ``data-test-script-state``) as the real frontend does.

A page is rendered once connected, its script run over and its own title shown; the time is the
page's own clock, from the navigation's start (a full load) or from the click on the sidebar's
link; exceptions and error messages are read off it.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.many_sessions_browser import Visit, click_to, visit
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import missing_service

pytestmark = pytest.mark.browser

# The script run ends after ``finish_ms``, with ``title`` as the page's heading and ``body`` under
# it; until then the app is ``state`` (a script run in progress, as Streamlit starts one).
PAGE = """<!DOCTYPE html><html><body>
<div data-testid="stApp" id="app" data-test-connection-state="{connection}"
     data-test-script-state="running"><div data-testid="stMain" id="main"></div></div>
<script>
setTimeout(() => {{
  main.innerHTML = '<h1>{title}</h1>{body}';
  app.dataset.testScriptState = '{final}';
}}, {finish_ms});
</script></body></html>"""
FAILING = (
    "<div data-testid=\"stException\">KeyError: \\'champion\\'<br>Traceback …</div>"
    '<div data-testid="stAlertContentError">MLflow not reachable at http://127.0.0.1:5000</div>'
)


# Opened on the Monitoring page; the sidebar's Dataset link starts a script run that shows the
# Dataset page 300 ms later, its Audit link does nothing (the page stays on Dataset).
SIDEBAR = """<!DOCTYPE html><html><body>
<div data-testid="stSidebarNav">
  <a data-testid="stSidebarNavLink" id="dataset" href="/Dataset">Dataset</a>
  <a data-testid="stSidebarNavLink" id="audit" href="/Audit">Audit</a>
</div>
<div data-testid="stApp" id="app" data-test-connection-state="CONNECTED"
     data-test-script-state="notRunning"><div data-testid="stMain" id="main"><h1>Monitoring</h1>
</div></div>
<script>
dataset.addEventListener('click', (event) => {
  event.preventDefault();
  app.dataset.testScriptState = 'running';
  setTimeout(() => {
    main.innerHTML = '<h1>Dataset</h1>';
    app.dataset.testScriptState = 'notRunning';
  }, 300);
});
audit.addEventListener('click', (event) => event.preventDefault());
</script></body></html>"""


def _write(root: Path, path: str, **fields: object) -> None:
    values = {"connection": "CONNECTED", "final": "notRunning", "body": "", **fields}
    (root / path).mkdir(parents=True)
    (root / path / "index.html").write_text(PAGE.format(**values))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Stand-ins for the Dataset, Training, Audit, Access and Predictions pages, on loopback."""
    root = tmp_path_factory.mktemp("site")
    _write(root, "Dataset", title="Dataset", finish_ms=400)
    _write(root, "Training", title="Training", finish_ms=100, body=FAILING)
    _write(root, "Audit", title="Access", finish_ms=100)  # another page's title
    _write(root, "Access", title="Access", finish_ms=100, connection="CONNECTING")
    _write(root, "Predictions", title="Predictions", finish_ms=100, final="running")
    (root / "Monitoring").mkdir()
    (root / "Monitoring" / "index.html").write_text(SIDEBAR)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def seen(site: str) -> dict[str, Visit]:
    """Each stand-in visited once in one Chromium; the unfinished ones with a 1.5 s timeout."""
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    timeouts = {"Dataset": 15_000, "Training": 15_000, "Predictions": 1_500}
    timeouts |= {"Access": 1_500, "Audit": 1_500}

    async def run() -> dict[str, Visit]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                seen = {name: await visit(page, site, 7, name, ms) for name, ms in timeouts.items()}
                seen["Monitoring"] = await visit(page, site, 7, "Monitoring", 15_000)
                seen["click Dataset"] = await click_to(page, 7, "Dataset", 15_000)
                seen["click Audit"] = await click_to(page, 7, "Audit", 1_500)
                return seen
            finally:
                await browser.close()

    return asyncio.run(run())


def test_the_render_time_runs_from_the_navigation_to_the_end_of_the_script_run(
    seen: dict[str, Visit],
) -> None:
    dataset = seen["Dataset"]
    assert (dataset.session, dataset.page) == (7, "Dataset")
    assert dataset.ms is not None and 400 <= dataset.ms < 5_000
    assert (dataset.exceptions, dataset.errors, dataset.stuck) == ([], [], "")
    assert dataset.opening  # a full page load


def test_a_click_in_the_sidebar_is_timed_from_the_click_to_the_new_page_rendered(
    seen: dict[str, Visit],
) -> None:
    clicked = seen["click Dataset"]
    assert (clicked.page, clicked.opening, clicked.stuck) == ("Dataset", False, "")
    assert clicked.ms is not None and 300 <= clicked.ms < 5_000


def test_the_page_shown_before_the_click_never_counts_as_the_next_one(
    seen: dict[str, Visit],
) -> None:
    clicked = seen["click Audit"]  # nothing happens: the Dataset page stays, finished
    assert clicked.ms is None
    assert clicked.stuck == 'connection CONNECTED, script notRunning, title "Dataset"'


def test_exceptions_and_error_messages_on_the_page_are_collected(seen: dict[str, Visit]) -> None:
    training = seen["Training"]
    assert training.ms is not None
    assert training.exceptions == ["KeyError: 'champion'"]  # the first line of each
    assert training.errors == ["MLflow not reachable at http://127.0.0.1:5000"]


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("Predictions", 'connection CONNECTED, script running, title "Predictions"'),
        ("Access", 'connection CONNECTING, script notRunning, title "Access"'),
        ("Audit", 'connection CONNECTED, script notRunning, title "Access"'),  # not its own
    ],
)
def test_a_page_not_rendered_in_time_has_no_render_time_and_says_where_it_stood(
    seen: dict[str, Visit], name: str, where: str
) -> None:
    assert seen[name].ms is None
    assert seen[name].stuck == where
