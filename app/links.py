"""Where a person opens each tool: the URL its service is published at, as this machine's browser
reaches it (in the stack: the host's ports, not the containers' names)."""

from __future__ import annotations

import streamlit as st

from app.bootstrap import Managers
from app.managers.errors import ManagerError
from app.records import ServiceInfo


def links_from(
    services: list[ServiceInfo] | None, backend: str, managers: Managers
) -> dict[str, str]:
    """Tool name → URL, for the services that run.

    In local mode a tool that is not supervised here (its URL points at another host) keeps its
    configured URL; in the stack the configured URLs are the containers' names, which a browser
    cannot open, so only published ports count.
    """
    urls = {s.name: s.url for s in services or [] if s.url and s.status == "running"}
    if backend == "local":
        known = {s.name for s in services or []}
        configured = {
            "mlflow": managers.mlflow.ui_url, "prefect": managers.prefect.ui_url,
            "api": managers.predictions.docs_url, "prometheus": managers.settings.prometheus_url,
        }  # fmt: skip
        urls |= {name: url for name, url in configured.items() if url and name not in known}
    return urls


@st.cache_data(ttl=30, show_spinner=False)
def tool_links(_managers: Managers) -> dict[str, str]:
    """The links, for pages that show a few of them (checked at most every 30 s)."""
    try:
        services: list[ServiceInfo] | None = _managers.services.services()
    except ManagerError:
        services = None
    return links_from(services, _managers.services.backend, _managers)
