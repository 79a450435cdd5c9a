"""Composition root: the one place that builds managers from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from pydantic import ValidationError

from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.docker_services import DockerServiceManager
from app.managers.drift import DriftManager
from app.managers.experiments import ExperimentsManager
from app.managers.flows import PrefectManager
from app.managers.inference import InferenceManager
from app.managers.predictions import PredictionManager
from app.managers.prometheus import PrometheusManager
from app.managers.registry import RegistryManager
from app.managers.services import LocalServiceManager, ServiceManager
from core.access import Actor
from core.adapters.containers import DockerEngine
from core.adapters.flows import PrefectRest
from core.adapters.model_store import model_store
from core.adapters.predictor import HttpPredictor
from core.adapters.prometheus import PrometheusHttp
from core.db.engine import make_engine
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
    prometheus: PrometheusManager | None = None  # None: service health from the API's /metrics
    local_services: ServiceManager | None = None  # stack mode's way out when Docker is down


@st.cache_resource(show_spinner=False)
def _build() -> Managers:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    store = model_store(settings.mlflow_tracking_uri, "app")
    predictor = HttpPredictor(settings.api_url, settings.api_token)
    database = Database(engine)
    return Managers(
        settings=settings,
        dataset=DatasetManager(database, settings),
        inference=InferenceManager(database),
        drift=DriftManager(database, settings.var_dir / "drift"),
        experiments=ExperimentsManager(store),
        registry=RegistryManager(store, predictor, engine, settings.promotion_margin),
        prefect=PrefectManager(PrefectRest(settings.prefect_api_url)),
        predictions=PredictionManager(predictor, batch_size=min(100, settings.api_batch_limit)),
        services=service_manager(settings),
        local_services=local_service_manager(settings) if settings.mode == "stack" else None,
        prometheus=prometheus_manager(settings),
    )


def service_manager(settings: Settings) -> ServiceManager:
    """The backend the settings ask for: containers in stack mode, processes in local mode."""
    if settings.mode == "stack":
        return DockerServiceManager(DockerEngine(settings.compose_project))
    return local_service_manager(settings)


def prometheus_manager(settings: Settings) -> PrometheusManager | None:
    """Prometheus' history when a server is configured; None: the page reads the API itself."""
    url = settings.prometheus_url
    return PrometheusManager(PrometheusHttp(url)) if url else None


def local_service_manager(settings: Settings) -> LocalServiceManager:
    """Local mode's services, through the same PID files and logs as ``make run``; a tool it does
    not run keeps the link to its configured URL (e.g. a remote MLflow)."""
    mlflow = settings.mlflow_tracking_uri
    configured = {
        "mlflow": mlflow if mlflow.startswith("http") else None,  # a server, not a folder
        "prefect": PrefectRest(settings.prefect_api_url).ui_url,
        "api": f"{settings.api_url.rstrip('/')}/docs",
        "prometheus": settings.prometheus_url,
    }
    return LocalServiceManager(Supervisor(settings.var_dir, local_services(settings)), configured)


def current_actor() -> Actor:
    """Who is using this session: every state-changing manager method is given it.

    Without an identity provider the control room is one person on one machine (it listens on
    127.0.0.1 only), and that person is the local admin.
    """
    return Actor.local_admin()


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
