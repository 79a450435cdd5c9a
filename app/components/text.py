"""Text from outside (file names, cell values in import errors) shown through Streamlit's Markdown.

``st.error``, ``st.success`` and friends render Markdown: a file named ``![x](http://…)`` or a
cell quoted in an import error would otherwise become an image fetched from anywhere, a link, or
coloured text. :func:`inert` escapes the characters that start Markdown (emphasis, code, links,
images, HTML, tables, headings, maths) and a colon before a letter (Streamlit's ``:red[…]``,
``:material/…:`` and emoji), so the text is shown exactly as it is and plain text reads the same.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$!]|:(?=[A-Za-z]))")


def inert(text: str) -> str:
    """``text`` with Markdown (and Streamlit's ``:colour[…]`` / ``:icon:``) switched off."""
    return _MARKDOWN.sub(r"\\\1", text)
