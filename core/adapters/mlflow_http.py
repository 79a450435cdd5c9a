"""How every process talks to MLflow over HTTP: retries and timeout, who it signs in as, and how a
refusal of those credentials reads.

MLflow's client defaults (7 retries with back-off, 120 s per request) stall a caller for minutes on
a dead server. A page must answer fast, the API must not hold a reload for long, a flow worker may
wait longer — but not for ever: a train run that loses MLflow mid-upload waits out the whole policy
twice (the request that failed, then MLflow's own marking of the logged model as FAILED) and tries
the run's end once (:func:`brief_requests`): about 2 × ((retries + 1) × timeout + 5 s of back-off)
+ 5 s, some 3 minutes with the flow's policy against a hung server, seconds against a stopped one.
:func:`core.adapters.model_store.model_store` applies the caller's policy and the
control room's service credentials (``RAKUTEN_MLFLOW_USERNAME`` / ``RAKUTEN_MLFLOW_PASSWORD``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import requests
from pydantic import SecretStr

from core.adapters.errors import AdapterError, Refused, Unreachable

if TYPE_CHECKING:  # only named: the serving process reaches MLflow without its package
    from mlflow.exceptions import MlflowException

Caller = Literal["app", "api", "flow"]
HTTP_POLICY: dict[Caller, tuple[int, int]] = {  # (retries, timeout in seconds)
    "app": (2, 15),
    "api": (1, 20),
    # No request of a flow needs long once sent: the largest, the model's upload (~7 MB at full
    # size), is answered in seconds; 120 s held a stalled run for ~18 minutes.
    "flow": (2, 30),
}
RETRIES_VARIABLE = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"
BRIEF_TIMEOUT = 5  # seconds: a clean-up request after a failure, tried once
USERNAME_VARIABLE = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VARIABLE = "MLFLOW_TRACKING_PASSWORD"
CREDENTIAL_SETTINGS = "RAKUTEN_MLFLOW_USERNAME and RAKUTEN_MLFLOW_PASSWORD"


def use_http_policy(caller: Caller) -> None:
    """Set MLflow's HTTP retries and timeout for this process, unless the environment does.

    The environment wins so an operator can still tune one service without a code change.

    Args:
        caller: Which kind of process this is (see :data:`HTTP_POLICY`).
    """
    retries, timeout = HTTP_POLICY[caller]
    os.environ.setdefault(RETRIES_VARIABLE, str(retries))
    os.environ.setdefault(TIMEOUT_VARIABLE, str(timeout))


@contextmanager
def brief_requests() -> Iterator[None]:
    """Inside the block MLflow's client tries each request once, for :data:`BRIEF_TIMEOUT` s.

    For a clean-up after a failure (ending a run as FAILED): MLflow may well be what failed, and
    waiting out the whole policy again would only delay the failure's report. MLflow reads both
    variables on every request; the caller's policy is restored on the way out.
    """
    saved = {name: os.environ.get(name) for name in (RETRIES_VARIABLE, TIMEOUT_VARIABLE)}
    os.environ[RETRIES_VARIABLE] = "0"
    os.environ[TIMEOUT_VARIABLE] = str(BRIEF_TIMEOUT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def use_credentials(username: str, password: SecretStr) -> None:
    """Have MLflow's client sign in as ``username`` (basic auth) from this process.

    MLflow's client — ``MlflowClient`` and the fluent API that logs and loads models alike — reads
    its credentials from the environment on every request: like the HTTP policy, they belong to
    the process. Unlike the policy, the settings win: they are the control room's service
    credentials. Without a user name the environment is left as it is (an open server, or
    credentials MLflow's own variables already give).

    Args:
        username: ``RAKUTEN_MLFLOW_USERNAME`` (empty: nothing to do).
        password: ``RAKUTEN_MLFLOW_PASSWORD``.
    """
    if username:
        os.environ[USERNAME_VARIABLE] = username
        os.environ[PASSWORD_VARIABLE] = password.get_secret_value()


def refusal(status: int | None, uri: str) -> Refused | None:
    """What an MLflow answer with HTTP ``status`` means when it refuses the caller, or None.

    The message names the settings to fix, never their values (the API shows it on ``/health``).

    Args:
        status: The answer's HTTP status (401: who are you; 403: not allowed).
        uri: The tracking server, for the message.

    Returns:
        A :class:`Refused` naming the settings to fix, or None for any other status.
    """
    if status == 401 and os.environ.get(USERNAME_VARIABLE):
        return Refused(
            f"MLflow at {uri} refused the control room's credentials: set {CREDENTIAL_SETTINGS} "
            "to a user of its basic-auth app, then restart."
        )
    if status == 401:
        return Refused(
            f"MLflow at {uri} asks who is calling (basic auth): set {CREDENTIAL_SETTINGS} "
            "to a user of its basic-auth app, then restart."
        )
    if status == 403:
        return Refused(
            f"MLflow at {uri} does not let the control room's user (RAKUTEN_MLFLOW_USERNAME) do "
            "this: give that user the permission in MLflow (an admin may do everything)."
        )
    return None


def mlflow_error(exc: MlflowException | requests.RequestException, uri: str) -> AdapterError:
    """MLflow's error (from its client, or an artifact's transfer) as an adapter's.

    A refused sign-in names the settings to fix: MLflow's own message (its sign-in page's text)
    says less. A request that got no answer reads as such: MLflow's client wraps the connection
    error or timeout in its own exception, with the whole retry history in its text.

    Args:
        exc: What the MLflow client or ``requests`` raised.
        uri: The tracking server, for the message.

    Returns:
        :class:`Refused` (401/403), :class:`Unreachable` (no answer) or :class:`AdapterError`.
    """
    if isinstance(exc, requests.RequestException):
        status = exc.response.status_code if exc.response is not None else None
        unreachable = Unreachable(f"MLflow not reachable at {uri} ({type(exc).__name__})")
        return refusal(status, uri) or unreachable
    if (lost := _no_answer(exc)) is not None:
        return Unreachable(f"MLflow not reachable at {uri} ({type(lost).__name__})")
    return refusal(exc.get_http_status_code(), uri) or AdapterError(
        f"MLflow error at {uri}: {exc.message}"
    )


def _no_answer(exc: BaseException) -> requests.RequestException | None:
    """The connection error or timeout behind ``exc`` (its cause, or what it was raised in)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None
