"""A real control room under `streamlit run`, and headless Debian Chromium driven by Playwright.

Nothing downloads a browser: Playwright launches /usr/bin/chromium (Debian's `chromium`
package, which .ci/run installs). Off CI, the tests skip when it is missing; in CI they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import REPO_ROOT
from tests.conftest import missing_service
from tests.ports import free_port

CHROMIUM = os.environ.get("RAKUTEN_TEST_CHROMIUM", "/usr/bin/chromium")
LEAKY = {"MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PREFECT_API_URL", "PREFECT_HOME"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def wait_for_line(line: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in log.read_text():
            return
        if process.poll() is not None:
            raise RuntimeError(f"make run exited early:\n{log.read_text()}")
        time.sleep(0.5)
    raise RuntimeError(f"no {line!r} after {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`make run` on a free loopback port with its own empty var/ folder, as a newcomer runs it.

    The virtualenv is the one running the tests (VENV), so make finds everything installed.
    """
    var_dir = tmp_path_factory.mktemp("var")
    port = free_port()
    # Earlier tests in this process may have exported MLflow's URIs (mlflow.set_tracking_uri does):
    # make run must see only its own settings.
    inherited = {k: v for k, v in os.environ.items() if k not in LEAKY}
    env = {
        **inherited,
        "RAKUTEN_VAR_DIR": str(var_dir),
        "RAKUTEN_DATABASE_URL": "",
        "RAKUTEN_SYNTHETIC_ROWS": "20000",
        "RAKUTEN_APP_PORT": str(port),
        "RAKUTEN_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "RAKUTEN_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "RAKUTEN_API_URL": f"http://127.0.0.1:{free_port()}",
        "RAKUTEN_API_TOKEN": "",  # local mode makes one and hands it to the API and the app
        "VENV": str(Path(sys.executable).parents[1]),
    }
    log = var_dir / "make-run.log"
    with log.open("w") as out:
        # Own process group: make, streamlit and anything they start are stopped together.
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_line(f"Control room: {url}", process, log)  # printed once all are healthy
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        # Ctrl-C (here SIGTERM, which make forwards a second time) stops every service it started,
        # including one restarted from the Infrastructure page: no PID file is left behind.
        left = sorted(p.stem for p in (var_dir / "run").glob("*.pid"))
        assert not left, f"make run left services running: {left}\n{log.read_text()[-3000:]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium."""
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # The first page load imports MLflow; flows take tens of seconds: be patient, not flaky.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
