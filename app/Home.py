"""Home: the status strip and the way into every lifecycle area."""

from __future__ import annotations

import streamlit as st

from app.bootstrap import get_managers, require_identity
from app.components.infrastructure import render_links, services_card
from app.components.live_comparison import shadow_card
from app.components.navigation import lifecycle_links
from app.components.status import (
    champion_card,
    database_cards,
    drift_card,
    flow_runs_card,
    render_status_strip,
    served_card,
)
from app.managers.errors import ManagerError
from app.records import ApiHealth, FlowRunInfo, ServiceInfo
from core.data.queries import DatasetStatus
from core.drift_store import DriftCheck
from core.registry import CHALLENGER, CHAMPION

st.set_page_config(
    page_title="Rakuten MLOps Control Room", page_icon=":material/hub:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
dataset, registry, prefect = managers.dataset, managers.registry, managers.prefect
predictions = managers.predictions

st.title("Rakuten MLOps Control Room")
st.caption(
    f"Mode **{managers.settings.mode}** · one place to load data, train, promote, serve, "
    "watch and roll back a product classifier."
)

status: DatasetStatus | None
last_check: DriftCheck | None
try:
    status = dataset.status()
    last_check = managers.drift.latest()
except ManagerError as exc:
    status, last_check = None, None
    st.error(str(exc))
try:
    versions, mlflow_up = registry.versions(), True
except ManagerError:
    versions, mlflow_up = [], False
champion = next((v for v in versions if CHAMPION in v.aliases), None)
challenger = next((v for v in versions if CHALLENGER in v.aliases), None)
runs: list[FlowRunInfo] | None = None
if not (flows_error := prefect.unavailable() or ""):  # a quick check: a hung Prefect waits once
    try:
        runs = prefect.recent_runs(limit=5)
    except ManagerError as exc:
        flows_error = str(exc)
try:
    served: ApiHealth | None = predictions.health()
except ManagerError:
    served = None
services: list[ServiceInfo] | None
try:  # the same health the Infrastructure page shows
    services, services_error = managers.services.services(), ""
except ManagerError as exc:
    services, services_error = None, str(exc)
# Two rows: the platform (data and services), then the model's life (champion, serving, drift).
render_status_strip(
    [*database_cards(dataset.backend, status), services_card(services, services_error)]
)
cards = [
    champion_card(champion, mlflow_up),
    served_card(served, champion),
    drift_card(last_check),
    flow_runs_card(runs, flows_error),
]
if challenger is not None:  # a card only while a challenger is registered
    try:
        cards.append(shadow_card(managers.shadow.comparison(24.0, challenger.version)))
    except ManagerError as exc:
        cards.append(shadow_card(None, str(exc)))
render_status_strip(cards)

st.subheader("Lifecycle")
lifecycle_links()

st.subheader("Tools")
render_links(managers.services.links(services))
