"""Composition root: the one place that builds managers from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import ValidationError
from streamlit import config

from app.components.identity import identity_sidebar
from app.managers.access import AccessManager
from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.docker_services import DockerServiceManager
from app.managers.drift import DriftManager
from app.managers.errors import ManagerError
from app.managers.experiments import ExperimentsManager
from app.managers.flows import PrefectManager
from app.managers.inference import InferenceManager
from app.managers.predictions import PredictionManager
from app.managers.prometheus import PrometheusManager
from app.managers.registry import RegistryManager
from app.managers.services import LocalServiceManager, ServiceManager
from app.managers.shadow import ShadowManager
from core.access import Actor, AuditLog, Role
from core.access.audit_store import SqlAuditLog
from core.access.roles import role_from_claim
from core.adapters.containers import DockerEngine
from core.adapters.flows import PrefectRest
from core.adapters.model_store import model_store
from core.adapters.predictor import HttpPredictor
from core.adapters.prometheus import PrometheusHttp
from core.db.engine import make_engine
from core.identity import SessionIdentity, read_identity_provider, resolve_session
from core.local_stack import local_services
from core.settings import Settings, describe_settings_error, get_settings
from core.supervisor import Supervisor


@dataclass(frozen=True)
class Managers:
    """Every manager the pages use, built once per server process."""

    settings: Settings
    dataset: DatasetManager
    inference: InferenceManager  # the predictions the API logged, and feedback on them
    drift: DriftManager
    experiments: ExperimentsManager  # training runs
    registry: RegistryManager  # versions, the gate, promotions and rollbacks
    prefect: PrefectManager
    predictions: PredictionManager
    services: ServiceManager  # local processes or compose containers, by RAKUTEN_MODE
    access: AccessManager  # role assignments and the audit trail
    shadow: ShadowManager  # the challenger against the champion on live traffic
    prometheus: PrometheusManager | None = None  # None: service health from the API's /metrics
    local_services: ServiceManager | None = None  # stack mode's way out when Docker is down


@st.cache_resource(show_spinner=False)
def _build() -> Managers:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    store = model_store(
        settings.mlflow_tracking_uri, "app", settings.mlflow_username, settings.mlflow_password
    )
    predictor = HttpPredictor(settings.api_url, settings.api_token.get_secret_value())
    database = Database(engine)
    audit = SqlAuditLog(engine)  # the managers without a database of their own write here
    batch_size = min(100, settings.api_batch_limit)
    return Managers(
        settings=settings,
        dataset=DatasetManager(database, settings),
        inference=InferenceManager(database),
        drift=DriftManager(database, settings.var_dir / "drift"),
        experiments=ExperimentsManager(store),
        registry=RegistryManager(
            store,
            predictor,
            engine,
            settings.promotion_margin,
            live_evidence=settings.promotion_needs_live_evidence,
        ),
        prefect=PrefectManager(
            PrefectRest(settings.prefect_api_url, auth_string=settings.prefect_auth_string), audit
        ),
        predictions=PredictionManager(predictor, batch_size=batch_size, audit=audit),
        services=service_manager(settings, audit),
        access=AccessManager(database),
        shadow=ShadowManager(database, predictor, settings.canary_share),
        local_services=(
            local_service_manager(settings, audit) if settings.mode == "stack" else None
        ),
        prometheus=prometheus_manager(settings),
    )


def service_manager(settings: Settings, audit: AuditLog | None = None) -> ServiceManager:
    """The backend the settings ask for: containers in stack mode, processes in local mode."""
    if settings.mode == "stack":
        return DockerServiceManager(DockerEngine(settings.compose_project), audit)
    return local_service_manager(settings, audit)


def prometheus_manager(settings: Settings) -> PrometheusManager | None:
    """Prometheus' history when a server is configured; None: the page reads the API itself."""
    url = settings.prometheus_url
    return PrometheusManager(PrometheusHttp(url)) if url else None


def local_service_manager(settings: Settings, audit: AuditLog | None = None) -> LocalServiceManager:
    """Local mode's services, through the same PID files and logs as ``make run``; a tool it does
    not run keeps the link to its configured URL (e.g. a remote MLflow)."""
    mlflow = settings.mlflow_tracking_uri
    configured = {
        "mlflow": mlflow if mlflow.startswith("http") else None,  # a server, not a folder
        "prefect": PrefectRest(settings.prefect_api_url).ui_url,
        "api": f"{settings.api_url.rstrip('/')}/docs",
        "prometheus": settings.prometheus_url,
    }
    supervisor = Supervisor(settings.var_dir, local_services(settings))
    return LocalServiceManager(supervisor, configured, audit)


def listening_address() -> str:
    """Where people can reach this server (``""``: every interface, Streamlit's default).

    In the stack the app listens on 0.0.0.0 inside its container, but compose publishes its port
    on the host's 127.0.0.1 only (``RAKUTEN_APP_PUBLISHED_ADDRESS`` says so): that is what counts.
    """
    if published := get_managers().settings.app_published_address:
        return published
    # Through the config module, which AppTest patches (st.get_option is bound at import).
    address = config.get_option("server.address")
    if not address and config.get_option("global.appTest"):
        return "127.0.0.1"  # AppTest serves no network; a test sets server.address to say otherwise
    return str(address or "")


def signed_in_role(claims: Mapping[str, Any]) -> Role:
    """The role of a signed-in person: the one place that decides it, from the ID token's claims
    and the role assignments; with neither, ``RAKUTEN_DEFAULT_ROLE``.

    An admin's assignment (the Access page) wins over the claim (``RAKUTEN_ROLE_CLAIM``), so an
    admin can change a person's role without touching the identity provider; it is read on every
    page load, so the change takes effect on that person's next one."""
    managers = get_managers()
    settings = managers.settings
    claim = claims.get(settings.role_claim)
    claims_role = role_from_claim(claim if isinstance(claim, str | list | tuple) else None)
    subject, email = str(claims.get("sub") or ""), claims.get("email")
    email = email if isinstance(email, str) else None
    try:
        return managers.access.role_of(claims_role, subject, email, Role(settings.default_role))
    except ManagerError as exc:  # no role can be decided: nobody acts until the database is back
        st.error(str(exc))
        st.stop()
        raise  # st.stop() does not return; this keeps type checkers honest


def session_identity() -> SessionIdentity:
    """Who this session acts as, from the secrets files Streamlit reads and ``st.user``."""
    files = [Path(path) for path in config.get_option("secrets.files")]
    provider = read_identity_provider(files)
    user = st.user.to_dict() if provider.configured else {}
    claims = user if user.get("is_logged_in") else None  # the ID token's claims
    return resolve_session(provider, listening_address(), claims, signed_in_role)


def require_identity() -> Actor:
    """Show who is using the app in the sidebar, and stop the page while nobody may act: the app
    refuses a wide address without an identity provider, and asks to sign in when there is one."""
    identity = session_identity()
    identity_sidebar(identity)
    return _actor_or_stop(identity)


def current_actor() -> Actor:
    """Who is using this session: every state-changing manager method is given it.

    Without an identity provider the control room is one person on one machine (it listens on
    127.0.0.1 only), and that person is the local admin; with one, the signed-in person. A page
    that acts before anyone may (see :func:`require_identity`) is stopped here.
    """
    identity = session_identity()
    if identity.actor is None:
        st.error(identity.refusal or "Sign in to use the control room.")
    return _actor_or_stop(identity)


def _actor_or_stop(identity: SessionIdentity) -> Actor:
    if identity.actor is None:
        st.stop()
        raise RuntimeError("st.stop() returned")  # it raises; this keeps type checkers honest
    return identity.actor


def get_managers() -> Managers:
    """The managers, built once and shared by every session (they hold no user state).

    Invalid settings stop the page with a message naming each bad variable.
    """
    try:
        return _build()
    except ValidationError as exc:
        st.error(describe_settings_error(exc))
        st.stop()
        raise  # st.stop() does not return; this keeps type checkers honest
