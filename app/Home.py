"""Home: the status strip and the way into every lifecycle area."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.bootstrap import get_managers
from app.components.infrastructure import render_links, services_card
from app.components.status import (
    champion_card,
    database_cards,
    drift_card,
    flow_runs_card,
    render_status_strip,
    served_card,
)
from app.links import links_from
from app.managers.errors import ManagerError
from app.records import ApiHealth, FlowRunInfo, ServiceInfo
from core.data.queries import DatasetStatus
from core.registry import champion as champion_of

st.set_page_config(
    page_title="Rakuten MLOps Control Room", page_icon=":material/hub:", layout="wide"
)
managers = get_managers()
database, mlflow, prefect = managers.database, managers.mlflow, managers.prefect
predictions = managers.predictions

st.title("Rakuten MLOps Control Room")
st.caption(
    f"Mode **{managers.settings.mode}** · one place to load data, train, promote, serve, "
    "watch and roll back a product classifier."
)

status: DatasetStatus | None
drift_runs: pd.DataFrame | None
try:
    status = database.status()
    drift_runs = database.drift_runs(limit=1)
except ManagerError as exc:
    status, drift_runs = None, None
    st.error(str(exc))
try:
    champion, mlflow_up = champion_of(mlflow.versions()), True
except ManagerError:
    champion, mlflow_up = None, False
try:
    runs: list[FlowRunInfo] | None = prefect.recent_runs(limit=5)
except ManagerError:
    runs = None
try:
    served: ApiHealth | None = predictions.health()
except ManagerError:
    served = None
services: list[ServiceInfo] | None
try:  # the same health the Infrastructure page shows
    services, services_error = managers.services.services(), ""
except ManagerError as exc:
    services, services_error = None, str(exc).split(" (", 1)[0]
# Two rows: the platform (data and services), then the model's life (champion, serving, drift).
render_status_strip(
    [*database_cards(database.backend, status), services_card(services, services_error)]
)
render_status_strip(
    [champion_card(champion, mlflow_up), served_card(served, champion),
     drift_card(drift_runs.iloc[0] if drift_runs is not None and not drift_runs.empty else None),
     flow_runs_card(runs)]
)  # fmt: skip

st.subheader("Lifecycle")
st.page_link(
    "pages/2_Dataset.py", label="**Dataset** — import, load in stratified batches, explore",
    icon=":material/dataset:",
)  # fmt: skip
st.page_link(
    "pages/3_Training.py", label="**Training** — train, compare runs, promote and roll back",
    icon=":material/model_training:",
)  # fmt: skip

st.page_link(
    "pages/4_Predictions.py", label="**Predictions** — classify products live or in batch, "
    "review the history and give feedback", icon=":material/bolt:",
)  # fmt: skip

st.page_link(
    "pages/5_Monitoring.py", label="**Monitoring** — drift of live traffic, Evidently reports, "
    "retraining, the traffic simulator", icon=":material/monitoring:",
)  # fmt: skip

st.page_link(
    "pages/6_Infrastructure.py", label="**Infrastructure** — every service's health, start, "
    "stop and restart them, read their logs", icon=":material/dns:",
)  # fmt: skip

st.subheader("Tools")
render_links(links_from(services, managers.services.backend, managers))
