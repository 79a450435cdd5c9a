"""Why this category: the words that pushed the score, highlighted in the product's own text.

The explanation is exact for a linear model (:mod:`core.serving.explain`): each term's TF-IDF
weight × coefficient. Words carrying at least a tenth of the strongest word's share are
highlighted — green for the predicted class, red against it — and the strongest terms of the
predicted class and of the runner-up are drawn as bars.
"""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go
import streamlit as st

from app.components.text import inert
from core.data.categories import label_for
from core.serving.explain import ClassEvidence, Explanation, word_scores

SHOWN = 0.1  # a word is highlighted when its share is at least this part of the strongest one's


def highlighted(text: str, words: dict[str, float]) -> str:
    """``text`` as Markdown: the words that count, on a green (for) or red (against) background."""
    pieces = word_scores(text, words)
    strongest = max((abs(score) for _, score in pieces), default=0.0)
    out = []
    for piece, score in pieces:
        if strongest and piece.strip() and abs(score) >= SHOWN * strongest:
            colour = "green" if score > 0 else "red"
            out.append(f":{colour}-background[{inert(piece)}]")
        else:
            out.append(inert(piece))
    return "".join(out)


def render_explanation(explanation: Explanation, designation: str, description: str) -> None:
    """The highlighted title and description, and the evidence of both leading classes."""
    predicted, runner_up = explanation.predicted, explanation.runner_up
    st.subheader("Why this category", anchor=False)
    st.caption(
        f"Exact contributions of the linear model (TF-IDF weight × coefficient) to the score of "
        f"**{inert(label_for(predicted.code))}**: :green-background[for], "
        f":red-background[against]. Scores: {inert(explanation.scores)}."
    )
    st.markdown(f"**Title:** {highlighted(designation, predicted.words)}")
    if description.strip():
        st.markdown(f"**Description:** {highlighted(description[:2_000], predicted.words)}")
    left, right = st.columns(2)
    left.plotly_chart(evidence_chart(predicted, "Predicted"), width="stretch")
    if runner_up is not None:
        right.plotly_chart(evidence_chart(runner_up, "Runner-up"), width="stretch")


def evidence_chart(evidence: ClassEvidence, role: str) -> go.Figure:
    """The class's strongest terms as bars (a character n-gram's spaces shown as ␣)."""
    terms = list(evidence.terms)
    # Plotly reads tags (<a href>, <b>) in labels: a term is text, so its < > & are entities. A
    # character n-gram's spaces (the edges of a word) show as ␣; a word n-gram keeps its own.
    labels = [escape(t.term.replace(" ", "␣") if t.kind == "chars" else t.term) for t in terms]
    figure = go.Figure(
        go.Bar(
            x=[t.contribution for t in terms],
            y=labels,
            orientation="h",
            marker_color=["#2ca02c" if t.contribution > 0 else "#d62728" for t in terms],
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        height=80 + 26 * len(terms),
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        title=(
            f"{role}: {label_for(evidence.code)} · score {evidence.score:.2f} "
            f"(intercept {evidence.intercept:.2f}, other terms {evidence.other_terms:+.2f})"
        ),
        yaxis={"autorange": "reversed"},
        xaxis={"title": "contribution to the score"},
    )
    return figure
