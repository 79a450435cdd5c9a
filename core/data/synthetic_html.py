"""Descriptions of the synthetic catalogue: sentences joined into the layouts real listings use.

Real descriptions are raw HTML fragments (paragraphs, line breaks, lists, bold first lines) or
plain text, often escaped with entities (``&eacute;``, ``&nbsp;:``), and about a third are empty.
"""

from __future__ import annotations

import numpy as np

from core.data import synthetic_vocab as vocab

# Sentences per non-empty description, 1..8: real descriptions run to hundreds of characters.
SENTENCE_COUNT_P = (0.06, 0.10, 0.14, 0.16, 0.16, 0.14, 0.12, 0.12)
# (prefix, separator, suffix) of the description layouts seen in the real data, and their odds.
_HTML_STYLES = (
    ("", " ", ""),
    ("<p>", " ", "</p>"),
    ("", "<br />", ""),
    ("<p>", "</p><p>", "</p>"),
    ("<ul><li>", "</li><li>", "</li></ul>"),
)
_HTML_STYLE_P = (0.55, 0.15, 0.12, 0.10, 0.08)
_BOLD_FIRST_P = 0.3  # HTML descriptions whose first sentence is in <b>
_ENTITY_P_HTML, _ENTITY_P_PLAIN = 0.5, 0.08
_ENTITIES = str.maketrans(
    {
        "é": "&eacute;",
        "è": "&egrave;",
        "à": "&agrave;",
        "ê": "&ecirc;",
        "ç": "&ccedil;",
        "'": "&#39;",
        "&": "&amp;",
        "°": "&deg;",
    }
)


def descriptions(
    content: np.ndarray, sentences: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Join 0-8 sentences per row, some wrapped in HTML and escaped with entities.

    Args:
        content: The category whose vocabulary writes each row (sets its odds of no description).
        sentences: ``len(SENTENCE_COUNT_P)`` aligned columns of candidate sentences.
        rng: The catalogue's generator.

    Returns:
        One description per row, ``""`` when empty.
    """
    total = content.size
    empty_p = np.zeros(total)
    for code, share in vocab.EMPTY_DESCRIPTION.items():
        empty_p[content == code] = share
    n_sent = 1 + np.searchsorted(np.cumsum(SENTENCE_COUNT_P)[:-1], rng.random(total), "right")
    n_sent[rng.random(total) < empty_p] = 0
    style = np.searchsorted(np.cumsum(_HTML_STYLE_P)[:-1], rng.random(total), side="right")
    first = sentences[0].copy()
    bold = np.flatnonzero((style > 0) & (rng.random(total) < _BOLD_FIRST_P))
    first[bold] = "<b>" + first[bold] + "</b>"
    out = np.full(total, "", dtype=object)
    for k in range(1, len(sentences) + 1):
        for s, (prefix, sep, suffix) in enumerate(_HTML_STYLES):
            rows = np.flatnonzero((n_sent == k) & (style == s))
            joined = first[rows]
            for column in sentences[1:k]:
                joined = joined + sep + column[rows]
            out[rows] = prefix + joined + suffix
    entity_p = np.where(style > 0, _ENTITY_P_HTML, _ENTITY_P_PLAIN)
    escaped = np.flatnonzero((n_sent > 0) & (rng.random(total) < entity_p))
    out[escaped] = [
        text.translate(_ENTITIES).replace(" :", "&nbsp;:").replace(" !", "&nbsp;!")
        for text in out[escaped]
    ]
    return out
