"""A real OpenID Connect provider for the browser suite, and what a person does to sign in.

oidc-provider-mock (PyPI) runs as its own process on a free loopback port, as a team would run it
to try the control room's sign-in; it accepts any client ID and secret. People are registered with
their claims (``groups`` among them) through its ``PUT /users/{sub}``. Signing in is what a person
does: the app's *Sign in* button, the provider's own form (type the subject, *Authorize*), and
back to the app with Streamlit's identity cookie.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, expect
from streamlit.auth_util import get_cookie_with_chunks
from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

from tests.ports import free_port

TOKENS_COOKIE = "_streamlit_user_tokens"  # Streamlit's: the ID and access tokens, signed
NOT_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")  # the provider's page links a CDN


@dataclass(frozen=True)
class Person:
    """Someone the provider knows: their subject and the claims of their ID token."""

    sub: str
    name: str
    email: str
    groups: tuple[str, ...] = ()

    @property
    def claims(self) -> dict[str, object]:
        """What the provider puts in the ID token besides ``sub`` (no groups: no claim at all)."""
        claims: dict[str, object] = {"name": self.name, "email": self.email}
        return claims | ({"groups": list(self.groups)} if self.groups else {})


@dataclass(frozen=True)
class Secrets:
    """The app's secrets file, and the secret that signs its identity cookies."""

    path: Path
    cookie_secret: str
    client_secret: str


@dataclass
class OidcProvider:
    """``python -m oidc_provider_mock`` on a free 127.0.0.1 port, for the length of a ``with``."""

    log: Path
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The issuer's URL (its discovery document is under ``/.well-known/``)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OidcProvider:
        command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1"]
        with self.log.open("w") as out:
            self._process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        discovery = f"{self.url}/.well-known/openid-configuration"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(discovery, timeout=2):
                    return self
            except OSError as exc:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = self.log.read_text()
                    raise RuntimeError(f"oidc-provider-mock did not start:\n{log}") from exc
                time.sleep(0.3)

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the provider's process group (the CLI and anything it started)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()

    def register(self, person: Person) -> None:
        """Give the provider ``person`` and the claims of their ID token."""
        request = urllib.request.Request(
            f"{self.url}/users/{person.sub}",
            data=json.dumps(person.claims).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 204, answer.read()


@dataclass(frozen=True)
class SignInApp:
    """A `make run` whose app signs people in at ``provider``."""

    url: str
    provider: OidcProvider
    secrets: Secrets
    var_dir: Path  # its runtime folder: logs, PID files, databases
    api_url: str
    service_secrets: dict[str, str] = field(default_factory=dict)  # setting name: value


def write_secrets(path: Path, app_port: int, provider_url: str) -> Secrets:
    """The ``[auth]`` section of a secrets file pointing the app at the provider (owner-only)."""
    cookie_secret, client_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    auth = {
        "redirect_uri": f"http://127.0.0.1:{app_port}/oauth2callback",
        "cookie_secret": cookie_secret,
        "client_id": "rakuten-control-room",
        "client_secret": client_secret,
        "server_metadata_url": f"{provider_url}/.well-known/openid-configuration",
    }
    path.touch(mode=0o600)
    path.write_text("[auth]\n" + "".join(f"{key} = {json.dumps(v)}\n" for key, v in auth.items()))
    return Secrets(path, cookie_secret, client_secret)


def open_desk(context: BrowserContext) -> Page:
    """A page in ``context`` that reaches 127.0.0.1 only (no waiting on a CDN that isn't there)."""
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(90_000)  # a click waits for a busy page (charts) to settle
    return page


def sidebar(page: Page) -> Locator:
    """The sidebar, where the app says who is signed in and with which role."""
    return page.get_by_test_id("stSidebar")


def sign_in(page: Page, app_url: str, person: Person) -> None:
    """Sign in as a person would: the app's button, the provider's form, back to the app."""
    page.goto(app_url)
    prompt = page.get_by_text("Sign in to use the control room.")
    expect(prompt).to_be_visible(timeout=90_000)  # a fresh server's first page imports MLflow
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()  # the provider
    page.get_by_placeholder("sub").fill(person.sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(sidebar(page)).to_contain_text(f"{person.name} · ", timeout=60_000)


def session_tokens(context: BrowserContext, cookie_secret: str) -> list[str]:
    """The ID and access tokens Streamlit keeps in the browser's (HttpOnly, signed) cookie."""
    cookies = {c["name"]: c["value"] for c in context.cookies()}

    def decoded(name: str) -> bytes | None:
        value = cookies.get(name)
        return None if value is None else decode_signed_value(cookie_secret, name, value)

    value = get_cookie_with_chunks(decoded, TOKENS_COOKIE)
    return [] if value is None else [str(token) for token in json.loads(value).values()]
