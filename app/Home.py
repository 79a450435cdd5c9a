"""Home: the status strip and the way into every lifecycle area."""

from __future__ import annotations

import streamlit as st

from app.bootstrap import get_managers
from app.components.status import database_cards, render_status_strip
from app.managers.errors import ManagerError

st.set_page_config(
    page_title="Rakuten MLOps Control Room", page_icon=":material/hub:", layout="wide"
)
managers = get_managers()
database = managers.database

st.title("Rakuten MLOps Control Room")
st.caption(
    f"Mode **{managers.settings.mode}** · one place to load data, train, promote, serve, "
    "watch and roll back a product classifier."
)

try:
    status = database.status()
except ManagerError as exc:
    status = None
    st.error(str(exc))
render_status_strip(database_cards(database.backend, status))

st.subheader("Lifecycle")
st.page_link(
    "pages/2_Dataset.py", label="**Dataset** — import, load in stratified batches, explore",
    icon=":material/dataset:",
)  # fmt: skip
