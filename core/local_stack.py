"""Local mode: the services `make run` supervises, and its command line.

    python -m core.local_stack run     # what `make run` does: start everything, wait for Ctrl-C
    python -m core.local_stack up|down|status [service ...]

Services: the MLflow tracking server (SQLite backend, local artifacts), the Prefect server, the
flows worker that serves this project's deployments, the predictor API and the Streamlit app. A URL
in the settings that points at another host (the compose stack) is used as it is and not started.
``run`` restarts a service that crashes (:mod:`core.restarts`), never one stopped on purpose.
``up`` and ``run`` start them in dependency order (the servers, then the worker, the API and the
app), each once what it needs answers its health check, and ``up X`` starts what X needs too.
Files under ``var/`` are the owner's only (see :mod:`core.runtime_files`).

Without ``RAKUTEN_API_TOKEN``, local mode makes a token (kept in ``var/run/api.token``) and gives it
to the API and the app, so the app can ask the API to reload right after a promotion. With the
service credentials set, MLflow and Prefect are started closed (:mod:`core.access.service_auth`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from core.access.service_auth import (
    local_secret,
    mlflow_server_auth,
    prefect_client_env,
    prefect_server_env,
)
from core.identity import binding_refusal, read_identity_provider, secrets_files
from core.restarts.watchdog import Watchdog
from core.runtime_files import make_private, private_umask
from core.settings import REPO_ROOT, Settings, get_settings
from core.supervisor import ServiceSpec, Supervisor, SupervisorError

log = logging.getLogger("core.local_stack")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
QUIET_ENV = {
    # No telemetry or update checks: the machine may have no internet, and nothing should call out.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
}  # MLflow's HTTP retries and timeout: each process sets its own (core.adapters.mlflow_http)


def local_services(settings: Settings) -> list[ServiceSpec]:
    """The services local mode runs, skipping those configured as remote, with what each needs."""
    bin_dir = Path(sys.executable).parent
    var = settings.var_dir.resolve()
    env = {
        **QUIET_ENV,
        "PREFECT_API_URL": settings.prefect_api_url,
        "RAKUTEN_API_TOKEN": settings.api_token.get_secret_value() or _local_token(var),
    }
    specs: list[ServiceSpec] = []
    mlflow = urlsplit(settings.mlflow_tracking_uri)
    if mlflow.scheme.startswith("http") and mlflow.hostname in LOCAL_HOSTS:
        auth_args, auth_env = mlflow_server_auth(settings, var)  # none without a password
        specs.append(
            ServiceSpec(
                "mlflow",
                "MLflow tracking server",
                [
                    str(bin_dir / "mlflow"),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(mlflow.port or 80),
                    "--backend-store-uri",
                    f"sqlite:///{var / 'mlflow' / 'mlflow.db'}",
                    "--artifacts-destination",
                    str(var / "mlflow" / "artifacts"),
                    "--workers",
                    "1",
                    *auth_args,
                ],
                url=settings.mlflow_tracking_uri,
                health_url=f"{settings.mlflow_tracking_uri.rstrip('/')}/health",  # open to all
                # No GenAI job runner (an extra process the control room never uses).
                env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **auth_env},
                setting="RAKUTEN_MLFLOW_TRACKING_URI",
            )
        )
    prefect = urlsplit(settings.prefect_api_url)
    if prefect.hostname in LOCAL_HOSTS:
        specs.append(
            ServiceSpec(
                "prefect",
                "Prefect server",
                [
                    str(bin_dir / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(prefect.port or 80),
                ],
                url=settings.prefect_api_url.removesuffix("/api"),
                health_url=f"{settings.prefect_api_url.rstrip('/')}/health",  # open to all
                env={**env, "PREFECT_HOME": str(var / "prefect"), **prefect_server_env(settings)},
                setting="RAKUTEN_PREFECT_API_URL",
            )
        )
    specs.append(
        ServiceSpec(
            "worker",
            "Flows worker (serves the deployments)",
            [sys.executable, "-m", "core.flows.serve"],
            env={**env, "PREFECT_HOME": str(var / "prefect"), **prefect_client_env(settings)},
            needs=("prefect",),  # it registers the deployments at start, and exits without it
        )
    )
    api = urlsplit(settings.api_url)
    if api.hostname in LOCAL_HOSTS:
        specs.append(
            ServiceSpec(
                "api",
                "Predictor API (serves the champion)",
                [sys.executable, "-m", "api"],
                url=f"{settings.api_url.rstrip('/')}/docs",
                health_url=f"{settings.api_url.rstrip('/')}/health",
                env=env,
                setting="RAKUTEN_API_URL",
                after=("mlflow",),  # so it serves the champion from its first request
            )
        )
    app_url = app_address_url(settings)
    specs.append(
        ServiceSpec(
            "app",
            "Control room (Streamlit)",
            [
                str(bin_dir / "streamlit"),
                "run",
                str(REPO_ROOT / "app" / "Home.py"),
                "--server.port",
                str(settings.app_port),
                "--server.address",
                settings.app_address,
                "--server.headless",
                "true",
                *_secrets_option(settings),
            ],
            url=app_url,
            health_url=f"{app_url}/_stcore/health",
            env=env,
            setting="RAKUTEN_APP_PORT",
            after=("mlflow", "prefect"),  # its first page reads both
        )
    )
    return specs


def app_address_url(settings: Settings) -> str:
    """Where this machine reaches the app: loopback when it listens on every interface."""
    host = settings.app_address
    if host in {"0.0.0.0", "::"}:
        host = "127.0.0.1"
    elif ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{settings.app_port}"


def app_refusal(
    settings: Settings, project_dir: Path = REPO_ROOT, home: Path | None = None
) -> str | None:
    """Why the app may not start on ``RAKUTEN_APP_ADDRESS``, or None (see
    :func:`core.identity.binding_refusal`); reads the secrets files the app will read (it is
    started from the repository, ``project_dir``, or handed ``RAKUTEN_SECRETS_FILE``)."""
    chosen = settings.secrets_file
    if chosen is not None and not chosen.is_file():  # else the app would run with no provider
        return f"RAKUTEN_SECRETS_FILE: {chosen} is not a file; create it or unset the variable."
    files = secrets_files(project_dir, project_dir / "app" / "Home.py", home, chosen)
    return binding_refusal(settings.app_address, read_identity_provider(files))


def _secrets_option(settings: Settings) -> list[str]:
    chosen = settings.secrets_file  # instead of Streamlit's own files; app_refusal reads it too
    return [] if chosen is None else ["--secrets.files", str(chosen.resolve())]


def _local_token(var: Path) -> str:
    return local_secret(var, "api.token")


def run(settings: Settings, supervisor: Supervisor) -> None:
    """Start every service, print where they are, and stop them all on Ctrl-C or SIGTERM.

    An interruption during start-up stops what was already started, too.
    """
    names = list(supervisor.specs)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        supervisor.start_in_order(names)
        for name in names:
            status = supervisor.status(name)
            log.info("  %-40s %s", status.title, status.url or f"pid {status.pid}")
        log.info("Control room: %s  (Ctrl-C stops everything)", app_address_url(settings))
        # Until Ctrl-C: restart what crashes (not what a person stops), report what stops.
        Watchdog(supervisor, names).run()
    except KeyboardInterrupt:
        log.info("Stopping…")
    except SupervisorError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from exc
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # (Ctrl-C's path: see _interrupt)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_all(supervisor)


def _interrupt(_signum: int, _frame: object) -> None:
    # make forwards its own SIGTERM to us on top of the process group's: a second signal must not
    # cut the shutdown short and leave services running.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _stop_all(supervisor: Supervisor) -> None:
    for name in reversed(list(supervisor.specs)):
        supervisor.stop(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    parser = argparse.ArgumentParser(prog="python -m core.local_stack")
    parser.add_argument("command", choices=["run", "up", "down", "status"])
    parser.add_argument("services", nargs="*", help="default: all")
    args = parser.parse_args(argv)
    settings = get_settings()
    # The services inherit the umask (the supervisor sets it too, for the Infrastructure page).
    with private_umask():
        make_private(settings.var_dir)  # an older install left its files world-readable
        return _command(parser, args, settings)


def _command(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    supervisor = Supervisor(settings.var_dir, local_services(settings))
    names = args.services or list(supervisor.specs)
    unknown = sorted(set(names) - set(supervisor.specs))
    if unknown:
        parser.error(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(supervisor.specs)}"
        )
    starts_app = args.command == "run" or (args.command == "up" and "app" in names)
    if starts_app and (refusal := app_refusal(settings)):
        log.error("%s", refusal)  # before anything starts: nothing to stop
        return 2
    if args.command == "run":
        run(settings, supervisor)
    elif args.command == "up":
        try:
            names = [s.name for s in supervisor.start_in_order(names)]
        except SupervisorError as exc:
            log.error("%s", exc)
            return 1
    elif args.command == "down":
        for name in reversed(names):
            supervisor.stop(name)
    for name in names:
        s = supervisor.status(name)
        state = "healthy" if s.healthy else "running" if s.running else "stopped"
        log.info("%-8s %-8s pid=%-7s %s", name, state, s.pid or "-", s.url or "")
        for note in (s.restarts.summary(), s.reason if s.restarts.given_up else ""):
            if note:
                log.info("         %s", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
