"""No secret in logs, command lines, printed URLs or pages, on the signed-in `make run` of the
sign-in journey (it runs after it, in file order, so the pages hold a trained model, predictions
and audit rows): the API token, MLflow's password and Prefect's auth string were set as a team sets
them in .env. The services hold them in their environment only; the API's reload, called with the
token and with a mistyped one, echoes neither; every page an admin opens, and every file the
services wrote under var/, is searched for each value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser.oidc import Person, SignInApp, open_desk, sign_in

pytestmark = pytest.mark.browser
AUDITOR = Person("sam", "Sam Security", "sam@example.org", ("admin",))
MISTYPED = f"mistyped-token-{secrets.token_hex(12)}"  # a credential someone sent by mistake
# The pages that show services, their links and logs, predictions, and the audit parameters.
PAGES = {
    "": "Rakuten MLOps Control Room",
    "Training": "Training",
    "Predictions": "Predictions",
    "Infrastructure": "Infrastructure",
    "Audit": "Audit",
}


def secret_values(app: SignInApp) -> dict[str, str]:
    """Every secret worth looking for, by name (random: any appearance is a leak, not chance)."""
    values = dict(app.service_secrets)
    values["the auth string's password"] = values["RAKUTEN_PREFECT_AUTH_STRING"].split(":", 1)[1]
    values["a mistyped bearer token"] = MISTYPED
    values["the identity cookie's secret"] = app.secrets.cookie_secret
    values["the OIDC client secret"] = app.secrets.client_secret
    return values


def found_in(text: str | bytes, values: Mapping[str, str]) -> list[str]:
    """The names of the secrets whose value ``text`` holds."""
    data = text.encode() if isinstance(text, str) else text
    return [name for name, value in values.items() if value.encode() in data]


def processes(what: str) -> Mapping[int, bytes]:
    """Every process's ``cmdline`` (what ``ps`` shows every user) or ``environ`` (its owner's)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / what).read_bytes()
            except OSError:  # ended meanwhile, or not ours to read
                continue
    return found


def service_pid(var_dir: Path, name: str) -> int:
    """The process of a service ``make run`` supervises (its PID file: pid, start time)."""
    return int((var_dir / "run" / f"{name}.pid").read_text().split()[0])


def test_services_hold_secrets_in_their_environment_never_on_a_command_line(
    signed_in_app: SignInApp,
) -> None:
    values = secret_values(signed_in_app)
    environ = processes("environ")
    var_dir = signed_in_app.var_dir
    assert (
        signed_in_app.service_secrets["RAKUTEN_API_TOKEN"].encode()
        in environ[service_pid(var_dir, "api")]
    )
    assert (
        signed_in_app.service_secrets["RAKUTEN_MLFLOW_PASSWORD"].encode()
        in environ[service_pid(var_dir, "mlflow")]
    )
    leaks = {pid: found_in(line, values) for pid, line in processes("cmdline").items()}
    assert not {pid: names for pid, names in leaks.items() if names}, "secrets on command lines"


def test_the_api_echoes_no_token(signed_in_app: SignInApp) -> None:
    values = secret_values(signed_in_app)
    reload = f"{signed_in_app.api_url}/model/reload"
    token = signed_in_app.service_secrets["RAKUTEN_API_TOKEN"]
    right = requests.post(reload, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    wrong = requests.post(reload, headers={"Authorization": f"Bearer {MISTYPED}"}, timeout=60)
    assert right.status_code != 401 and not found_in(right.text, values)
    assert wrong.status_code == 401 and not found_in(wrong.text, values)


def test_no_secret_on_any_page_or_under_var(browser: Browser, signed_in_app: SignInApp) -> None:
    values = secret_values(signed_in_app)
    signed_in_app.provider.register(AUDITOR)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = open_desk(context)
    sign_in(page, signed_in_app.url, AUDITOR)
    done = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    for path, title in PAGES.items():
        page.goto(f"{signed_in_app.url}/{path}")
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=90_000)
        expect(done).to_have_count(1, timeout=90_000)  # its script has finished
        shown = [page.url, page.content(), page.inner_text("body")]
        assert not found_in("\n".join(shown), values), f"a secret on the page /{path}"
        assert "Traceback" not in shown[2], f"/{path} shows a traceback"
    context.close()

    # Whatever the services printed and wrote so far, the printed URLs included (make-run.log).
    # The secrets file itself and the services' own secret files are where secrets belong.
    var_dir = signed_in_app.var_dir
    kept = {var_dir / "secrets.toml"}
    written = {p: p.read_bytes() for p in var_dir.rglob("*") if p.is_file() and p not in kept}
    assert any(p.suffix == ".log" for p in written) and (var_dir / "make-run.log") in written
    leaks = {str(p.relative_to(var_dir)): found_in(data, values) for p, data in written.items()}
    assert not {p: names for p, names in leaks.items() if names}, "secrets written under var/"
    printed = re.findall(r"https?://\S+", (var_dir / "make-run.log").read_text())
    assert printed and not [u for u in printed if "@" in u], "a printed URL carries credentials"
