"""Plotly figures for the data lifecycle. Pure: data in, figure out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.queries import TextStats

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def cumulative_share_chart(history: pd.DataFrame) -> go.Figure:
    """Loaded share of the pool after each load, over time (a step line)."""
    fig = go.Figure(
        go.Scatter(
            x=history["loaded_at"],
            y=history["cumulative_pct"],
            mode="lines+markers",
            line={"shape": "hv"},
            customdata=history[["action", "rows"]],
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>%{y:.1f} % loaded"
            "<br>%{customdata[0]}: %{customdata[1]:+,} rows<extra></extra>",
        )
    )
    fig.update_layout(
        title="Loaded share of the pool",
        yaxis={"range": [0, 105], "ticksuffix": " %"},
        height=320,
        margin=_MARGIN,
    )
    return fig


def class_distribution_chart(distribution: pd.DataFrame) -> go.Figure:
    """Products per category: loaded next to the whole pool, largest class on top."""
    ordered = distribution.sort_values("pool")
    fig = go.Figure()
    for column, name, colour in (("pool", "Pool", "#c9d3e0"), ("loaded", "Loaded", "#bf0000")):
        fig.add_bar(
            y=ordered["label"],
            x=ordered[column],
            name=name,
            orientation="h",
            marker_color=colour,
            hovertemplate="%{y}<br>%{x:,} products<extra>" + name + "</extra>",
        )
    fig.update_layout(
        title="Products per category",
        barmode="overlay",
        height=640,
        margin=_MARGIN,
        legend={"orientation": "h", "y": 1.04, "x": 1, "xanchor": "right"},
    )
    return fig


def text_length_chart(stats: TextStats) -> go.Figure:
    """Distributions of title and description lengths (characters, empty descriptions left out)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Title length", "Description length"))
    fig.add_histogram(x=stats.title_lengths, nbinsx=50, row=1, col=1, marker_color="#bf0000")
    descriptions = stats.description_lengths[stats.description_lengths > 0]
    fig.add_histogram(x=descriptions.clip(upper=3000), nbinsx=60, row=1, col=2)
    fig.update_layout(showlegend=False, height=320, margin=_MARGIN, bargap=0.05)
    fig.update_xaxes(title_text="characters")
    return fig
