"""Local mode's locks on the tools behind the control room, switched on by the settings.

With ``RAKUTEN_MLFLOW_PASSWORD`` set, ``make run`` starts MLflow with its basic-auth app and a
config of its own (:func:`write_basic_auth_config`): nobody gets anything by default, the service
user (``RAKUTEN_MLFLOW_USERNAME``) is its admin, and its users live in a SQLite database under
``var/mlflow/``. With ``RAKUTEN_PREFECT_AUTH_STRING`` set, the Prefect server requires that string
and the flows worker sends it. The app, the API and the flows read the same settings and sign in
themselves (:mod:`core.adapters.mlflow_http`, :class:`core.adapters.flows.PrefectRest`).

Secrets reach a service through its environment (only its owner may read a process's environment),
never its command line: ``ps`` shows every command line to every user of the machine.
"""

from __future__ import annotations

import configparser
import io
import os
import secrets
from pathlib import Path

from core.runtime_files import open_private
from core.settings import Settings

BASIC_AUTH_APP = "basic-auth"  # mlflow server --app-name
BASIC_AUTH_CONFIG = "basic_auth.ini"
BASIC_AUTH_DATABASE = "basic_auth.db"
# MLflow checks a password against its scrypt hash on every request: a second or more on a busy
# machine. One process (--workers 1) remembers a good check for this long; a password changed
# through MLflow's own API takes effect at once all the same.
AUTH_CACHE_SECONDS = 600


def write_basic_auth_config(folder: Path, admin: str) -> Path:
    """Write the config of MLflow's basic-auth app for a local server, readable by its owner only.

    The admin's password is not in it: MLflow reads it from ``MLFLOW_AUTH_ADMIN_PASSWORD`` when it
    creates the admin at its first start (see :func:`mlflow_server_auth`).

    Args:
        folder: Where the local MLflow keeps its files (``var/mlflow``); the users' database goes
            there too.
        admin: The service user MLflow creates as its admin (``RAKUTEN_MLFLOW_USERNAME``).

    Returns:
        The config's path, for ``MLFLOW_AUTH_CONFIG_PATH``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = configparser.ConfigParser(interpolation=None)
    config["mlflow"] = {
        "default_permission": "NO_PERMISSIONS",  # anonymous and unknown users get nothing
        "database_uri": f"sqlite:///{(folder / BASIC_AUTH_DATABASE).resolve()}",
        # MLflow reads the file with interpolation: a literal % is written %%.
        "admin_username": admin.replace("%", "%%"),
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access": "false",
        "auth_cache_ttl_seconds": str(AUTH_CACHE_SECONDS),
    }
    text = io.StringIO()
    config.write(text)
    path, draft = folder / BASIC_AUTH_CONFIG, folder / f".{BASIC_AUTH_CONFIG}.{os.getpid()}"
    with open_private(draft) as out:
        out.write(text.getvalue().encode())
    draft.replace(path)  # whole or not at all: a starting MLflow may be reading it
    return path


def mlflow_server_auth(settings: Settings, var: Path) -> tuple[list[str], dict[str, str]]:
    """What closes a local MLflow server: its extra arguments and environment (none when
    ``RAKUTEN_MLFLOW_PASSWORD`` is not set).

    Args:
        settings: The service credentials.
        var: The runtime folder; the config goes to ``var/mlflow``, the Flask secret (MLflow's
            CSRF protection) to ``var/run``.

    Returns:
        ``(arguments, environment)`` to add to the ``mlflow server`` command and its environment.
    """
    password = settings.mlflow_password.get_secret_value()
    if not password:
        return [], {}
    config = write_basic_auth_config(var / "mlflow", settings.mlflow_username)
    return ["--app-name", BASIC_AUTH_APP], {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": local_secret(var, "mlflow-flask.key"),
    }


def prefect_server_env(settings: Settings) -> dict[str, str]:
    """The Prefect server's environment: the auth string it requires, if one is set."""
    secret = settings.prefect_auth_string.get_secret_value()
    return {"PREFECT_SERVER_API_AUTH_STRING": secret} if secret else {}


def prefect_client_env(settings: Settings) -> dict[str, str]:
    """A Prefect client's environment (the worker and its flow runs): the auth string to send."""
    secret = settings.prefect_auth_string.get_secret_value()
    return {"PREFECT_API_AUTH_STRING": secret} if secret else {}


def local_secret(var: Path, name: str) -> str:
    """A random secret kept in ``var/run/<name>``, made once and readable by its owner only, so
    every process local mode starts (now or later, from a shell or the Infrastructure page) agrees.

    Args:
        var: The runtime folder.
        name: The file's name.

    Returns:
        The secret.
    """
    path = var / "run" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(path) as out:
            out.write(secrets.token_urlsafe(24).encode())
    return path.read_text().strip()
