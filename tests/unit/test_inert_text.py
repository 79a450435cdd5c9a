"""Outside text shown through Streamlit's Markdown is shown as it is (no link, image or colour)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from app.components.text import inert

HOSTILE = [
    "![x](http://example.invalid/pixel.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] :material/warning:",
    "**bold** _it_ `code` # title",
    "a\\b $x^2$ ~~gone~~",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_renders_the_text_literally(text: str) -> None:
    html = MarkdownIt("commonmark").render(inert(text))
    assert "<img" not in html and "<a " not in html and "<strong>" not in html
    assert "<em>" not in html and "<code>" not in html and "<h1>" not in html
    # Markdown drops each escaping backslash: what is left is the text (HTML-escaped).
    plain = html.removeprefix("<p>").removesuffix("</p>\n")
    unescaped = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert unescaped.replace("&amp;", "&") == text


def test_ordinary_text_reads_the_same() -> None:
    text = "X_train_update.csv, row 3: unknown prdtypecode 99"
    assert MarkdownIt("commonmark").render(inert(text)) == f"<p>{text}</p>\n"
