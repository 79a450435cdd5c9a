"""Home's way into every lifecycle area: one link per page, saying what is done there."""

from __future__ import annotations

import streamlit as st

# Page file (relative to Home), label, icon: the same icons as the pages' own.
LIFECYCLE = (
    (
        "pages/2_Dataset.py",
        "**Dataset** — import, load in stratified batches, explore",
        ":material/dataset:",
    ),
    (
        "pages/3_Training.py",
        "**Training** — train, compare runs, promote and roll back",
        ":material/model_training:",
    ),
    (
        "pages/4_Predictions.py",
        "**Predictions** — classify products live or in batch, review the history and give "
        "feedback",
        ":material/bolt:",
    ),
    (
        "pages/5_Monitoring.py",
        "**Monitoring** — drift of live traffic, Evidently reports, retraining, the traffic "
        "simulator",
        ":material/monitoring:",
    ),
    (
        "pages/6_Infrastructure.py",
        "**Infrastructure** — every service's health, start, stop and restart them, read their "
        "logs",
        ":material/dns:",
    ),
    (
        "pages/7_Access.py",
        "**Access** — who has which role (admins change it)",
        ":material/admin_panel_settings:",
    ),
    (
        "pages/8_Audit.py",
        "**Audit** — who did what, when, and how it ended; download it as CSV",
        ":material/policy:",
    ),
)


def lifecycle_links() -> None:
    """A link to each lifecycle page."""
    for page, label, icon in LIFECYCLE:
        st.page_link(page, label=label, icon=icon)
