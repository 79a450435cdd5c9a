"""Composition root: the one place that builds managers from the settings."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st
from pydantic import ValidationError

from app.managers.database import DatabaseManager
from app.managers.experiments import MlflowManager
from app.managers.flows import PrefectManager
from app.managers.predictions import PredictionManager
from app.managers.prometheus import PrometheusManager
from app.managers.services import ServiceManager, service_manager
from core.access import Actor
from core.db.engine import make_engine
from core.settings import Settings, describe_settings_error, get_settings


@dataclass(frozen=True)
class Managers:
    """Every manager the pages use, built once per server process."""

    settings: Settings
    database: DatabaseManager
    mlflow: MlflowManager
    prefect: PrefectManager
    predictions: PredictionManager
    services: ServiceManager  # local processes or compose containers, by RAKUTEN_MODE
    prometheus: PrometheusManager | None = None  # None: service health from the API's /metrics


@st.cache_resource(show_spinner=False)
def _build() -> Managers:
    settings = get_settings()
    # The MLflow client retries a failing server for minutes by default; a page must not wait.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    engine = make_engine(settings.database_url)
    return Managers(
        settings=settings,
        database=DatabaseManager(engine, settings),
        mlflow=MlflowManager(settings.mlflow_tracking_uri, engine, settings.promotion_margin),
        prefect=PrefectManager(settings.prefect_api_url),
        predictions=PredictionManager(
            settings.api_url, settings.api_token, batch_size=min(100, settings.api_batch_limit)
        ),
        services=service_manager(settings),
        prometheus=PrometheusManager(settings.prometheus_url) if settings.prometheus_url else None,
    )


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
