"""Text preparation shared by training, serving and statistics.

Rakuten descriptions are raw HTML fragments: tags (``<p>``, ``<br />``), entities (``&eacute;``,
``&nbsp;``), sometimes escaped twice (``&amp;eacute;``). The model must see the same words however
the marketplace happened to encode them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

_TAG = re.compile(r"</?[A-Za-z!][^<>]{0,200}>")
_SPACE = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Unescape HTML entities, drop tags and fold white space.

    Args:
        text: Raw title or description; ``None`` counts as empty.

    Returns:
        Plain text on one line, without leading or trailing spaces.

    Examples:
        >>> clean_text("<p>Caf&eacute; &amp;amp; th&eacute;</p><br />Lot de 2")
        'Café & thé Lot de 2'
    """
    if not text:
        return ""
    # Unescape until stable (at most 3 rounds): some listings are escaped twice.
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    # A tag is replaced by a space so that "<br />" between two words still separates them.
    text = _TAG.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def combine_text(designation: str | None, description: str | None) -> str:
    """The model's input for one product: cleaned title, then cleaned description."""
    return f"{clean_text(designation)} {clean_text(description)}".strip()


def combine_texts(
    designations: Iterable[str | None], descriptions: Iterable[str | None]
) -> list[str]:
    """:func:`combine_text` over two aligned columns."""
    return [combine_text(t, d) for t, d in zip(designations, descriptions, strict=True)]
