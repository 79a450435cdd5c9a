"""Product text from the inference log cannot run as script in the drift report (real Evidently).

Anyone can send a product title to ``POST /predict``; it lands in the inference log, and the
drift report embeds samples of it as JSON inside a ``<script>`` element. These tests read the
HTML that Evidently really produces, with an HTML tokenizer, the way a browser splits it.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import generate_catalogue
from core.drift import ReportLayoutError, compute_drift, drift_frame, neutralise_report

BREAK_OUT = '</script><img src=x onerror="window.top.__xss=1;window.parent.__xss=1">'
SCRIPT = "<script>window.parent.__xss=2</script> <!-- <script>"
PAYLOADS = (BREAK_OUT, SCRIPT)


class Tags(HTMLParser):
    """Every start tag, and the text of each ``<script>`` element, as a browser splits them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def sample(products: pd.DataFrame, seed: int) -> pd.DataFrame:
    confidence = pd.Series(np.random.default_rng(seed).beta(5, 2, len(products)))
    return drift_frame(products.designation, products.description, products.prdtypecode, confidence)


@pytest.fixture(scope="module")
def reports() -> tuple[str, str]:
    """A report on clean traffic, and one where some titles and descriptions are payloads."""
    catalogue = generate_catalogue(2_000, seed=3)
    reference = sample(catalogue.iloc[:1_200], 1)
    clean = catalogue.iloc[1_200:1_300].copy()
    hostile = clean.copy()
    hostile.iloc[:40, hostile.columns.get_loc("designation")] = BREAK_OUT
    hostile.iloc[40:70, hostile.columns.get_loc("description")] = SCRIPT
    _, clean_html = compute_drift(reference, sample(clean, 2), 0.3)
    _, hostile_html = compute_drift(reference, sample(hostile, 2), 0.3)
    return clean_html, hostile_html


def test_payloads_in_the_traffic_add_no_element_to_the_report(reports: tuple[str, str]) -> None:
    clean, hostile = parsed(reports[0]), parsed(reports[1])
    assert [tag for tag, _ in hostile.tags] == [tag for tag, _ in clean.tags]
    handlers = [(tag, name) for tag, attrs in hostile.tags for name in attrs if name[:2] == "on"]
    assert handlers == []
    assert not any("__xss" in script for script in hostile.scripts[1:])  # only the data holds it
    for payload in PAYLOADS:
        assert payload not in reports[1]  # nowhere verbatim, so nowhere the tokenizer sees markup


def test_the_report_still_shows_the_text_as_it_was_sent(reports: tuple[str, str]) -> None:
    data = parsed(reports[1]).scripts[0]
    values = [json.loads(m) for m in re.findall(r"^\s*var \w+ = (\{.*\});$", data, re.M)]
    assert len(values) == 2  # the dashboard and its additional graphs
    shown = json.dumps(values)
    assert json.dumps(SCRIPT) in shown  # Evidently shows description examples, intact


def test_a_report_of_an_unknown_layout_is_refused_rather_than_stored() -> None:
    with pytest.raises(ReportLayoutError, match="layout"):
        neutralise_report("<html><head><script>var x = {};</script></head><body></body></html>")
