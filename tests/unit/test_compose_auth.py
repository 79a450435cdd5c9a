"""The stack is not a side door: people sign in through Dex, MLflow runs its basic-auth app,
Prefect demands its auth string, and the app, worker and API carry the service credentials.

Checked by parsing docker-compose.yml and the config files it writes from ``.env``, interpolated
as compose does (no Docker engine runs here); each config is read by the parser of the program
that reads it (Dex's rules, MLflow's own reader, the app's ``[auth]`` check).
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from core.identity import read_identity_provider, secrets_files
from core.settings import REPO_ROOT
from tests.compose_file import (
    COMPOSE,
    REQUIRED,
    SERVICES,
    command,
    config_content,
    config_files,
    dockerfile,
    env,
    mounts,
    option,
    published,
    render,
    stack_values,
)

VALUES = stack_values()  # an .env with every required variable set
DEX = yaml.safe_load(config_content("dex-config", VALUES))
AUTH = tomllib.loads(config_content("app-auth", VALUES))["auth"]
PROJECT_DOCKERFILE = REPO_ROOT / SERVICES["app"]["build"]["dockerfile"]
ISSUER = urlsplit(DEX["issuer"])


def _value(service: str, variable: str) -> str:
    """What the service's container gets for ``variable`` with the stack's ``.env``."""
    return render(env(service)[variable], VALUES)


def _target(service: str, config: str) -> str:
    return next(t for t, source in config_files(service).items() if source == config)


def _client() -> dict:
    (client,) = DEX["staticClients"]  # the control room is Dex's one client
    return client


def test_dex_image_is_pinned() -> None:
    assert re.fullmatch(r"ghcr\.io/dexidp/dex:v\d+\.\d+\.\d+", SERVICES["dex"]["image"])


def test_dex_serves_the_config_compose_writes() -> None:
    cmd = command("dex")
    assert cmd[:2] == ["dex", "serve"]
    assert config_files("dex")[cmd[2]] == "dex-config"


def test_dex_listens_on_loopback_at_its_issuer_port() -> None:
    # The same port inside and on the host: the issuer URL names one port for both sides.
    assert all(str(p).startswith("127.0.0.1:") for p in SERVICES["dex"]["ports"])
    assert published("dex") == [(ISSUER.port, ISSUER.port)]
    assert DEX["web"]["http"] == f"0.0.0.0:{ISSUER.port}"
    assert ISSUER.scheme == "http" and ISSUER.path == "/dex"


def test_the_issuer_is_one_url_for_the_browser_and_the_app() -> None:
    # Browsers resolve *.localhost to the loopback, where Dex is published; in the stack network
    # the alias resolves it to the dex container, which the app shares the default network with.
    assert ISSUER.hostname and ISSUER.hostname.endswith(".localhost")
    assert ISSUER.hostname in SERVICES["dex"]["networks"]["default"]["aliases"]
    assert "networks" not in SERVICES["app"]
    assert AUTH["server_metadata_url"] == f"{DEX['issuer']}/.well-known/openid-configuration"


def test_dex_healthcheck_asks_its_telemetry_listener() -> None:
    url = urlsplit(SERVICES["dex"]["healthcheck"]["test"][-1])
    assert f"{url.hostname}:{url.port}" == DEX["telemetry"]["http"]
    assert url.path == "/healthz"


def test_dex_config_passes_dex_checks() -> None:
    # As cmd/dex (Config.Validate, the static clients' and passwords' checks) would refuse it.
    assert DEX["storage"]["type"] in {"memory", "sqlite3", "postgres"}
    assert DEX["enablePasswordDB"] is True, "static passwords need the password database"
    client = _client()
    assert client["name"] and client["id"]
    users = DEX["staticPasswords"]
    assert users and all(u["email"] and u["username"] for u in users)
    assert len({u["userID"] for u in users}) == len(users), "userIDs must differ"
    assert len({u["email"].lower() for u in users}) == len(users), "emails must differ"


def test_dex_reads_its_secrets_from_required_variables() -> None:
    # secretEnv / hashFromEnv name variables of Dex's own environment, each required in .env,
    # so neither the client secret nor a password hash is written in the config.
    client, users = _client(), DEX["staticPasswords"]
    assert "secret" not in client and not [u for u in users if "hash" in u]
    for variable in [client["secretEnv"], *(u["hashFromEnv"] for u in users)]:
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env("dex")[variable]), variable


def test_the_app_signs_in_as_dexs_client() -> None:
    client = _client()
    assert AUTH["client_id"] == client["id"]
    assert AUTH["client_secret"] == _value("dex", client["secretEnv"])
    assert AUTH["redirect_uri"] in client["redirectURIs"]
    assert AUTH["cookie_secret"] in {VALUES[name] for name in REQUIRED}
    assert {"openid", "email"} <= set(AUTH["client_kwargs"]["scope"].split())


def test_every_redirect_uri_is_the_apps_callback_on_its_published_port() -> None:
    ((host_port, _),) = published("app")
    address = _value("app", "RAKUTEN_APP_PUBLISHED_ADDRESS")
    for uri in _client()["redirectURIs"]:
        url = urlsplit(uri)
        assert url.hostname in {address, "localhost"} and url.port == host_port, uri
        assert url.path == "/oauth2callback", uri
    assert urlsplit(AUTH["redirect_uri"]).hostname == address


def test_the_app_reads_its_auth_section_where_streamlit_looks(tmp_path: Path) -> None:
    workdir = Path(next(a for i, a in dockerfile(PROJECT_DOCKERFILE) if i == "WORKDIR"))
    target = Path(_target("app", "app-auth"))
    assert "working_dir" not in SERVICES["app"]  # Streamlit runs in the image's WORKDIR
    assert target in secrets_files(workdir, workdir / "app" / "Home.py", home=Path("/root"))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(config_content("app-auth", VALUES))
    provider = read_identity_provider([secrets])
    assert provider.configured, provider.problems
    assert provider.providers == ("default",)


def test_the_app_waits_for_dex() -> None:
    assert SERVICES["app"]["depends_on"]["dex"]["condition"] == "service_healthy"


@pytest.mark.parametrize(("service", "config"), [("app", "app-auth"), ("mlflow", "mlflow-auth")])
def test_configs_holding_secrets_are_private(service: str, config: str) -> None:
    (mode,) = [c["mode"] for c in SERVICES[service]["configs"] if c["source"] == config]
    assert mode & 0o077 == 0, oct(mode)


def test_config_files_hold_no_literal_secret() -> None:
    line = re.compile(r"^\s*-?\s*([A-Za-z_]+)\s*[=:]\s*(.*)$", re.M)
    for name, spec in COMPOSE["configs"].items():
        for key, value in line.findall(spec["content"]):
            if not re.search(r"(password|secret|token|auth_string|hash)(env|fromenv)?$", key, re.I):
                continue
            value = value.strip().strip('"')
            if key.endswith("Env"):  # names a variable of the container's environment
                assert re.fullmatch(r"[A-Z_]+", value), f"{name}: {key}"
            else:
                assert value.startswith("${"), f"{name}: {key} = {value}"


def _cli_commands(script: str) -> list[list[str]]:
    """The ``python -m core.cli …`` commands of a shell script, as argument lists."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    commands, current = [], []
    for token in [*lexer, ";"]:
        if token in {"&&", "||", ";", "if", "then", "fi"}:
            if current[:3] == ["python", "-m", "core.cli"]:
                commands.append(current[3:])
            current = []
        else:
            current.append(token)
    return commands


def test_dexs_admin_becomes_the_first_admin() -> None:
    # The image's command grants the admin role to BOOTSTRAP_ADMIN_EMAIL before Streamlit
    # starts, unless that person already has a role; the stack names Dex's admin user.
    from core.cli import _parser

    email = _value("app", "BOOTSTRAP_ADMIN_EMAIL")
    assert email in {u["email"] for u in DEX["staticPasswords"]}
    (cmd,) = [json.loads(a) for i, a in dockerfile(PROJECT_DOCKERFILE) if i == "CMD"]
    script = cmd[-1]
    grants = [c for c in _cli_commands(script) if c[:2] == ["access", "grant"]]
    assert grants == [["access", "grant", "$BOOTSTRAP_ADMIN_EMAIL", "admin", "--if-unassigned"]]
    assert script.index("access grant") < script.index("streamlit run")
    _parser().parse_args([a.replace("$BOOTSTRAP_ADMIN_EMAIL", email) for a in grants[0]])


def test_mlflow_runs_its_basic_auth_app() -> None:
    assert option(command("mlflow"), "--app-name") == "basic-auth"
    assert env("mlflow")["MLFLOW_AUTH_CONFIG_PATH"] == _target("mlflow", "mlflow-auth")
    # CSRF key of the basic-auth app's forms: MLflow refuses to start without it.
    assert _value("mlflow", "MLFLOW_FLASK_SERVER_SECRET_KEY") in {VALUES[n] for n in REQUIRED}
    # /health is one of the basic-auth app's unprotected routes: the healthcheck needs no login.
    assert urlsplit(SERVICES["mlflow"]["healthcheck"]["test"][-1].split("'")[1]).path == "/health"


def test_mlflow_admits_the_control_rooms_account_and_nobody_else() -> None:
    # Read as mlflow.server.auth.config.read_auth_config reads it (ConfigParser, [mlflow]). The
    # same keys run a real basic-auth server in tests/integration/test_service_auth.py.
    parser = configparser.ConfigParser()
    parser.read_string(config_content("mlflow-auth", VALUES))
    config = parser["mlflow"]
    assert config["default_permission"] == "NO_PERMISSIONS"
    assert config["authorization_function"] == "mlflow.server.auth:authenticate_request_basic_auth"
    assert config["admin_password"] == VALUES["RAKUTEN_MLFLOW_PASSWORD"]
    for service in ("app", "api", "worker"):
        assert _value(service, "RAKUTEN_MLFLOW_USERNAME") == config["admin_username"]
        assert _value(service, "RAKUTEN_MLFLOW_PASSWORD") == config["admin_password"]


def test_mlflow_keeps_its_users_in_a_database_the_init_script_creates() -> None:
    ini = config_content("mlflow-auth", VALUES)
    url = urlsplit(re.search(r"^database_uri = (.+)$", ini, re.M)[1])  # type: ignore[index]
    scripts = [s for t, s in mounts("postgres").items() if t.startswith("/docker-entrypoint")]
    sql = "".join((REPO_ROOT / source).read_text() for source in scripts)
    assert url.hostname == "postgres"
    assert url.path.lstrip("/") in set(re.findall(r"CREATE DATABASE (\w+)", sql, re.I))
    tracking = urlsplit(render(env("mlflow")["MLFLOW_BACKEND_STORE_URI"], VALUES))
    assert url.path != tracking.path, "the users' database is not MLflow's tracking store"


def test_prefect_server_demands_the_auth_string() -> None:
    auth_string = VALUES["RAKUTEN_PREFECT_AUTH_STRING"]
    assert _value("prefect", "PREFECT_SERVER_API_AUTH_STRING") == auth_string
    # GET /api/health is exempt from the auth string: the healthcheck needs none.
    url = SERVICES["prefect"]["healthcheck"]["test"][-1].split("'")[1]
    assert urlsplit(url).path == "/api/health"


def test_prefect_clients_carry_the_auth_string() -> None:
    auth_string = VALUES["RAKUTEN_PREFECT_AUTH_STRING"]
    assert _value("worker", "PREFECT_API_AUTH_STRING") == auth_string  # Prefect's own client
    assert _value("worker", "RAKUTEN_PREFECT_AUTH_STRING") == auth_string
    assert _value("app", "RAKUTEN_PREFECT_AUTH_STRING") == auth_string
    assert not [k for k in env("api") if "PREFECT" in k], "the API never calls Prefect"
    # The worker's healthcheck reads a deployment: it must authenticate as the client does.
    check = " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert "'Authorization': 'Basic '" in check and "PREFECT_API_AUTH_STRING" in check


def test_readme_says_how_to_sign_in_and_which_credentials_the_tools_ask_for() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## The stack\n", 1)[1].split("\n## ", 1)[0]
    for variable in [
        "DEX_ADMIN_EMAIL",
        "DEX_ADMIN_PASSWORD_HASH",
        "DEX_USER_EMAIL",
        "RAKUTEN_MLFLOW_USERNAME",
        "RAKUTEN_MLFLOW_PASSWORD",
        "RAKUTEN_PREFECT_AUTH_STRING",
    ]:
        assert variable in section, f"README 'The stack' does not mention {variable}"
