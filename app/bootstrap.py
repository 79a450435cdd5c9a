"""Composition root: the one place that builds managers from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.managers.database import DatabaseManager
from core.db.engine import make_engine
from core.settings import Settings, get_settings


@dataclass(frozen=True)
class Managers:
    """Every manager the pages use, built once per server process."""

    settings: Settings
    database: DatabaseManager


@st.cache_resource(show_spinner=False)
def get_managers() -> Managers:
    """Build the managers once; Streamlit shares them across sessions (they hold no user state)."""
    settings = get_settings()
    return Managers(
        settings=settings,
        database=DatabaseManager(make_engine(settings.database_url), settings),
    )
