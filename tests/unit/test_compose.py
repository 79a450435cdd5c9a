"""The compose stack, checked by parsing it (no Docker engine runs here).

The file, its Dockerfile, the monitoring configs it mounts, ``.env.example``, the settings the
project reads and README's "The stack" must agree with each other.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import REPO_ROOT, Settings
from tests.compose_file import COMPOSE, COMPOSE_TEXT, SERVICES
from tests.compose_file import command as _command
from tests.compose_file import container_ports as _container_ports
from tests.compose_file import default as _default
from tests.compose_file import dockerfile as _dockerfile
from tests.compose_file import env as _env
from tests.compose_file import mounts as _mounts
from tests.compose_file import option as _option
from tests.compose_file import published as _published

README = (REPO_ROOT / "README.md").read_text()
PROJECT_IMAGE = "project image"  # how README's table names the image built from the repo
REQUIRED_SERVICES = {
    "postgres",
    "minio",
    "mlflow",
    "prefect",
    "worker",
    "api",
    "prometheus",
    "grafana",
    "dex",
    "app",
}
SECRETS = [
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "RAKUTEN_API_TOKEN",
    "RAKUTEN_MLFLOW_PASSWORD",
    "RAKUTEN_PREFECT_AUTH_STRING",
    "MLFLOW_SECRET_KEY",
    "DEX_CLIENT_SECRET",
    "DEX_ADMIN_PASSWORD_HASH",
    "DEX_USER_PASSWORD_HASH",
    "APP_COOKIE_SECRET",
]

# Which service reads which setting (RAKUTEN_<FIELD>). Every field of Settings must be listed, so a
# new setting forces a decision here; an empty set says why no container gets it.
NEEDS: dict[str, set[str]] = {
    "mode": {"app"},
    "compose_project": {"app"},
    "var_dir": {"app", "worker"},  # the worker writes drift reports there, the app reads them
    "database_url": {"app", "api", "worker"},
    "mlflow_tracking_uri": {"app", "api", "worker"},
    "prefect_api_url": {"app"},  # the worker gets Prefect's own PREFECT_API_URL
    "api_url": {"app", "api", "worker"},  # the train flow asks the API to reload
    "app_port": {"app"},
    "app_address": set(),  # make run's: the container listens on 0.0.0.0 behind a 127.0.0.1 port
    "app_published_address": {"app"},  # the container listens on 0.0.0.0 behind this address
    "default_role": {"app"},
    "role_claim": {"app"},
    "secrets_file": set(),  # make run's: the stack mounts [auth] where Streamlit reads it
    "prometheus_url": {"app"},
    "api_token": {"app", "api", "worker"},
    "mlflow_username": {"app", "api", "worker"},  # the control room's account on MLflow
    "mlflow_password": {"app", "api", "worker"},
    "prefect_auth_string": {"app", "worker"},  # the API never calls Prefect: it does not get it
    "api_poll_seconds": {"api"},
    "api_batch_limit": {"app", "api"},
    "api_workers": {"api"},  # `python -m api` reads it; the app sees the API only over HTTP
    "inference_log_buffer_bytes": {"api"},
    "inference_log_spool_bytes": {"api"},
    "inference_log_write_timeout": {"api"},
    "shadow_share": {"api"},
    "challenge_x_path": set(),  # a host path: in the stack the files are uploaded on the page
    "challenge_y_path": set(),
    "synthetic_rows": {"app", "worker"},
    "seed": {"app", "worker"},
    "holdout_fraction": {"app", "worker"},
    "initial_load_fraction": {"app", "worker"},
    "batch_fraction": {"app", "worker"},
    "drift_share_threshold": {"app", "worker"},
    "promotion_margin": {"app", "worker"},
    "promotion_needs_live_evidence": {"app", "worker"},
    "retrain_load_next_batch": {"app", "worker"},
    "canary_share": {"app", "worker", "api"},  # the app shows it; the API serves it
}
# Settings that may come from .env through `env_file` instead of `environment` (none: the file
# sets every variable it passes, so .env's local-mode values never reach a container by accident).
FROM_ENV_FILE: set[str] = set()
# URL settings: set explicitly, to the compose service they name.
SERVICE_URLS = {
    "RAKUTEN_DATABASE_URL": "postgres",
    "RAKUTEN_MLFLOW_TRACKING_URI": "mlflow",
    "RAKUTEN_PREFECT_API_URL": "prefect",
    "RAKUTEN_API_URL": "api",
    "RAKUTEN_PROMETHEUS_URL": "prometheus",
}


def _readme_stack_rows() -> dict[str, list[str]]:
    section = README.split("\n## The stack\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells
    return rows


BUILT = sorted(name for name, spec in SERVICES.items() if "build" in spec)
DOCKERFILES = sorted(
    {
        REPO_ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]
        for spec in (SERVICES[n] for n in BUILT)
    }
)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health(name: str) -> None:
    for dependency, spec in SERVICES[name].get("depends_on", {}).items():
        assert dependency in SERVICES
        assert spec.get("condition") in {"service_healthy", "service_completed_successfully"}


def test_no_secret_is_written_in_the_file() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    # Keys of the services' environments (the config files' keys: test_compose_auth.py).
    for match in re.finditer(r"^\s*[A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*:\s*(\S+)", text, re.M):
        assert match.group(2).startswith("${"), f"hard-coded secret: {match.group(0)}"


def test_built_images_exist() -> None:
    for spec in SERVICES.values():
        if "build" in spec:
            assert (REPO_ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()


def test_every_compose_variable_is_documented() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (REPO_ROOT / ".env.example").read_text()
    assert not [name for name in used if f"{name}=" not in example]


def test_the_stack_has_every_service() -> None:
    assert REQUIRED_SERVICES <= set(SERVICES), REQUIRED_SERVICES - set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_are_a_mapping_with_conditions(name: str) -> None:
    # The list form (`depends_on: [postgres]`) only waits for the container to be created.
    assert isinstance(SERVICES[name].get("depends_on", {}), dict), f"{name}: list-form depends_on"


def test_one_shot_services_are_awaited_to_completion() -> None:
    one_shots = {n for n, s in SERVICES.items() if str(s.get("restart", "no")) == "no"}
    assert one_shots, "expected minio-init to be a one-shot (restart: 'no')"
    for name, spec in SERVICES.items():
        for dependency, condition in spec.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency in one_shots else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} → {dependency}"


def test_the_table_lists_every_setting() -> None:
    assert set(NEEDS) == set(Settings.model_fields)


@pytest.mark.parametrize("service", ["app", "api", "worker"])
def test_services_get_the_settings_they_read(service: str) -> None:
    provided = set(_env(service))
    if "env_file" in SERVICES[service]:
        provided |= FROM_ENV_FILE
    needed = {f"RAKUTEN_{field.upper()}" for field, users in NEEDS.items() if service in users}
    assert not needed - provided, f"{service} lacks {sorted(needed - provided)}"


def test_every_rakuten_variable_in_the_file_is_a_setting() -> None:
    known = {f"RAKUTEN_{field.upper()}" for field in Settings.model_fields}
    keys = {key for name in SERVICES for key in _env(name) if key.startswith("RAKUTEN_")}
    interpolated = set(re.findall(r"\$\{(RAKUTEN_[A-Z_]+)", COMPOSE_TEXT))
    assert not (keys | interpolated) - known, sorted((keys | interpolated) - known)


@pytest.mark.parametrize("variable", sorted(SERVICE_URLS))
def test_service_urls_point_at_their_compose_service(variable: str) -> None:
    users = [
        service
        for service in ("app", "api", "worker")
        if service in NEEDS[variable.removeprefix("RAKUTEN_").lower()]
    ]
    assert users
    for service in users:
        env = _env(service)
        assert variable in env, f"{service} must set {variable} itself, not take it from .env"
        url = urlsplit(_default(env[variable]))
        assert url.hostname == SERVICE_URLS[variable], f"{service}: {variable}={env[variable]}"
        assert url.hostname in SERVICES
        assert url.port in _container_ports(url.hostname), f"{variable}: port {url.port}"


def test_the_worker_and_the_app_share_one_prefect() -> None:
    assert _env("worker")["PREFECT_API_URL"] == _env("app")["RAKUTEN_PREFECT_API_URL"]


def test_the_app_controls_this_compose_project() -> None:
    env = _env("app")
    assert env["RAKUTEN_MODE"] == "stack"
    default = Settings.model_fields["compose_project"].default
    assert _default(env["RAKUTEN_COMPOSE_PROJECT"]) == COMPOSE["name"] == default
    assert _mounts("app").get("/var/run/docker.sock") == "/var/run/docker.sock"


def test_the_worker_and_the_app_share_the_runtime_folder() -> None:
    for service in ("app", "worker"):
        var_dir = _env(service)["RAKUTEN_VAR_DIR"]
        source = _mounts(service).get(var_dir)
        assert source in COMPOSE["volumes"], f"{service}: {var_dir} is not on a named volume"
    app, worker = (_mounts(s)[_env(s)["RAKUTEN_VAR_DIR"]] for s in ("app", "worker"))
    assert app == worker


@pytest.mark.parametrize(("service", "port"), [("mlflow", 5000), ("prefect", 4200), ("api", 8000)])
def test_servers_listen_on_every_interface_at_their_container_port(service: str, port: int) -> None:
    command = _command(service)
    assert _option(command, "--host") == "0.0.0.0", command
    assert _option(command, "--port") == str(port)
    assert port in _container_ports(service)


def test_mlflow_accepts_the_host_name_the_others_use() -> None:
    # MLflow 3 answers 403 to a Host header it does not allow (only /health is exempt, so the
    # healthcheck would not notice).
    allowed = (_option(_command("mlflow"), "--allowed-hosts") or "").split(",")
    for service in ("app", "api", "worker"):
        host = urlsplit(_env(service)["RAKUTEN_MLFLOW_TRACKING_URI"]).netloc
        assert any(fnmatch.fnmatch(host, pattern) for pattern in allowed), host
    assert any(fnmatch.fnmatch("127.0.0.1:5000", pattern) for pattern in allowed)


def test_mlflow_stores_artifacts_in_the_bucket_minio_init_creates() -> None:
    destination = _default(_option(_command("mlflow"), "--artifacts-destination") or "")
    bucket = _default(_env("minio-init")["MINIO_BUCKET"])
    assert destination == f"s3://{bucket}"
    waits_for = SERVICES["mlflow"]["depends_on"]["minio-init"]["condition"]
    assert waits_for == "service_completed_successfully"
    assert urlsplit(_env("mlflow")["MLFLOW_S3_ENDPOINT_URL"]).port in _container_ports("minio")


def test_mlflow_and_prefect_databases_are_created_by_the_init_script() -> None:
    init = _mounts("postgres")
    scripts = {t: s for t, s in init.items() if t.startswith("/docker-entrypoint-initdb.d/")}
    assert scripts, "no init script mounted into /docker-entrypoint-initdb.d"
    sql = "".join((REPO_ROOT / source).read_text() for source in scripts.values())
    created = set(re.findall(r"CREATE DATABASE (\w+)", sql, re.I))
    for variable, service in [
        ("MLFLOW_BACKEND_STORE_URI", "mlflow"),
        ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "prefect"),
    ]:
        url = urlsplit(_default(_env(service)[variable]))
        assert url.hostname == "postgres"
        assert url.path.lstrip("/") in created, f"{variable} names a database nobody creates"


def test_secrets_have_no_default() -> None:
    for secret in SECRETS:
        uses = re.findall(rf"\$\{{{secret}(:?[-?+]?)", COMPOSE_TEXT)
        assert uses, f"{secret} is not used"
        assert ":?" in uses, f"{secret} is never required with the :? form"
        assert not [u for u in uses if "-" in u], f"{secret} has a default value"


@pytest.mark.parametrize("name", BUILT)
def test_project_image_healthchecks_use_python(name: str) -> None:
    # python:3.11-slim has neither curl nor wget.
    test = " ".join(SERVICES[name]["healthcheck"]["test"])
    assert "python" in test and not re.search(r"\b(curl|wget)\b", test), test


def test_readme_table_matches_the_services() -> None:
    rows = _readme_stack_rows()
    assert set(rows) == set(SERVICES), set(rows) ^ set(SERVICES)
    for name, spec in SERVICES.items():
        image = PROJECT_IMAGE if "build" in spec else f"`{spec['image']}`"
        assert rows[name][1] == image, f"{name}: README says {rows[name][1]}, compose {image}"
        ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", rows[name][2])}
        assert ports == {host for host, _ in _published(name)}, f"{name}: {rows[name][2]}"


def test_named_volumes_are_declared_and_documented() -> None:
    section = README.split("\n## The stack\n", 1)[1]
    declared = set(COMPOSE.get("volumes") or {})
    for name in SERVICES:
        for source in _mounts(name).values():
            if source.startswith((".", "/")):
                continue
            assert source in declared, f"{name} uses an undeclared volume {source}"
    for volume in declared:
        assert f"`{volume}`" in section, f"README does not mention the volume {volume}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounts_exist(name: str) -> None:
    for source in _mounts(name).values():
        if source.startswith("."):
            assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_the_api_from_the_repos_config() -> None:
    target = "/etc/prometheus/prometheus.yml"
    assert _mounts("prometheus")[target] == "./monitoring/prometheus/prometheus.yml"
    assert _option(_command("prometheus"), "--config.file") in {None, target}
    config = yaml.safe_load((REPO_ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    targets = [
        t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]
    ]
    api_port = _option(_command("api"), "--port")
    assert targets == [f"api:{api_port}"]
    assert int(api_port or 0) in _container_ports("api")


def test_grafana_is_provisioned_from_the_repo() -> None:
    mounts = _mounts("grafana")
    assert mounts["/etc/grafana/provisioning"] == "./monitoring/grafana/provisioning"
    provisioning = REPO_ROOT / "monitoring/grafana/provisioning"
    providers = yaml.safe_load((provisioning / "dashboards/dashboards.yml").read_text())
    for provider in providers["providers"]:
        assert mounts[provider["options"]["path"]] == "./monitoring/grafana/dashboards"
    sources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    url = urlsplit(sources["datasources"][0]["url"])
    assert url.hostname == "prometheus" and url.port in _container_ports("prometheus")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_what_exists_and_is_not_ignored(dockerfile: Path) -> None:
    ignored = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for instruction, args in _dockerfile(dockerfile):
        if instruction != "COPY":
            continue
        *sources, _ = [a for a in args.split() if not a.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file"
            assert not [p for p in ignored if fnmatch.fnmatch(source.rstrip("/"), p)], source


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_installs_requirements_then_the_project(dockerfile: Path) -> None:
    steps = _dockerfile(dockerfile)
    copied: set[str] = set()
    installed_requirements = False
    project = _project_packages()
    for instruction, args in steps:
        if instruction == "COPY":
            copied |= {a.rstrip("/") for a in args.split()[:-1] if not a.startswith("--")}
        elif instruction == "RUN" and "pip install -r requirements.txt" in args:
            assert "requirements.txt" in copied
            installed_requirements = True
        elif instruction == "RUN" and re.search(r"pip install --no-deps \.(\s|$)", args):
            needed = project | {"pyproject.toml", "requirements.txt"}
            assert not needed - copied, f"copy {sorted(needed - copied)} before installing"
            break
    else:
        pytest.fail("the image never runs `pip install --no-deps .`")
    assert installed_requirements


def _project_packages() -> set[str]:
    """The top-level packages pyproject.toml's ``include`` patterns select."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return {
        p.parent.name
        for p in REPO_ROOT.glob("*/__init__.py")
        if any(fnmatch.fnmatch(p.parent.name, pattern) for pattern in patterns)
    }


def test_the_app_is_published_where_it_says_people_reach_it() -> None:
    # The app listens on 0.0.0.0 in its container and is not refused only because it says it is
    # reached on the host's loopback: its port must really be published there, and only there.
    app = SERVICES["app"]
    published = app["environment"]["RAKUTEN_APP_PUBLISHED_ADDRESS"]
    assert published == "127.0.0.1"
    assert app["ports"] and all(str(p).startswith(f"{published}:") for p in app["ports"])


def test_the_api_serves_with_every_core_as_in_local_mode() -> None:
    # `python -m api` starts RAKUTEN_API_WORKERS processes; bare uvicorn would start one.
    assert _command("api")[:3] == ["python", "-m", "api"]
    assert _default(_env("api")["RAKUTEN_API_WORKERS"]) == ""  # empty: one per usable core
