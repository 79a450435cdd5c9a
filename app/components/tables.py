"""Tables with column formats chosen for people, not for pandas."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data.categories import label_for
from core.data.queries import ProductPage

_ACTIONS = {"initialize": "Initialize", "next_batch": "Next batch", "reset": "Reset"}


def render_load_history(history: pd.DataFrame) -> None:
    """Newest load first: when, what, rows, cumulative share and who asked."""
    shown = history.sort_values("id", ascending=False).assign(
        action=lambda f: f["action"].map(_ACTIONS).fillna(f["action"])
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_order=(
            "loaded_at",
            "action",
            "rows",
            "cumulative_rows",
            "cumulative_pct",
            "triggered_by",
        ),
        column_config={
            "loaded_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "action": "Action",
            "rows": st.column_config.NumberColumn("Rows", format="%+d"),
            "cumulative_rows": st.column_config.NumberColumn("Loaded", format="%d"),
            "cumulative_pct": st.column_config.ProgressColumn(
                "Share of pool", min_value=0, max_value=100, format="%.1f %%"
            ),
            "triggered_by": "Triggered by",
        },
    )


def render_products(page: ProductPage) -> None:
    """One page of products with their category names, under the count of matches."""
    st.caption(f"{page.total:,} products · page {page.page} of {page.pages}")
    shown = page.products.assign(category=page.products["prdtypecode"].map(label_for))
    st.dataframe(
        shown,
        hide_index=True,
        column_order=("productid", "category", "designation", "description"),
        column_config={
            "productid": st.column_config.NumberColumn("Product id", format="%d"),
            "category": "Category",
            "designation": st.column_config.TextColumn("Title", width="large"),
            "description": st.column_config.TextColumn("Description", width="large"),
        },
    )
