"""Product text is data anyone can send: the pages show it as text, never as markup or script.

The drift report runs in a frame sandboxed to scripts only (an opaque origin); titles and
descriptions appear only in data grids, selectboxes and form fields, which render text as text
(and in a prediction's explanation, as inert Markdown and chart labels made of entities); a CSV
header is never echoed as Markdown.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from app.components.batch import BatchFileError, parse_batch_csv
from app.managers.database import Database
from app.managers.dataset import DatasetManager
from app.managers.inference import InferenceManager
from core.access import Actor
from core.db.engine import ensure_schema
from core.db.tables import loaded_products
from core.drift_store import DriftRun, DriftSummary, save_drift_run
from tests.app.conftest import REPO_ROOT, button, loaded, run_page

PAYLOAD = '</script><img src=x onerror="window.parent.__xss=1">[xss](http://127.0.0.1:9/x)'
REPORT = f"<html><head><script>var data = {{}};</script></head><body>{PAYLOAD}</body></html>"
# Elements that show their value as plain text (React text nodes, or a grid drawn on a canvas).
TEXT_ONLY = {"dataframe", "selectbox", "text_input", "text_area"}


class Frames(HTMLParser):
    """Start tags of a page, with their attributes (entities decoded, as a browser does)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements_showing(at: AppTest, text: str) -> set[str]:
    """The types of the page's elements whose message carries ``text``."""
    found, stack = set(), [at.main, at.sidebar]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", {}).values())
        proto = getattr(node, "proto", None)
        if proto is not None and text in str(proto):
            found.add(node.type)
    return found


def test_the_drift_report_runs_in_a_frame_sandboxed_to_scripts_only(
    database: Database, app_settings
) -> None:
    summary = DriftSummary(0.5, ("designation",), {}, 0.3, 5_000, 600)
    ensure_schema(database.engine)
    run = DriftRun(summary, None, None, champion_version=1, actor=Actor.schedule("monitor"))
    save_drift_run(database.engine, app_settings.var_dir / "drift", run, REPORT)
    at = run_page(REPO_ROOT / "app" / "pages" / "5_Monitoring.py")
    assert not at.exception
    (frame,) = at.get("iframe")
    wrapper = Frames()
    wrapper.feed(frame.proto.srcdoc)
    # Streamlit's frame shares the app's origin: it holds no script, only the sandboxed frame.
    assert [tag for tag, _ in wrapper.tags] == ["html", "head", "meta", "body", "iframe"]
    inner = wrapper.tags[-1][1]
    assert inner["sandbox"] == "allow-scripts"  # no allow-same-origin: an opaque origin
    assert inner["srcdoc"] == REPORT  # the report itself, unchanged


def test_stored_titles_show_only_as_text_on_the_predictions_page(
    inference: InferenceManager,
) -> None:
    at = AppTest.from_file(str(REPO_ROOT / "app" / "pages" / "4_Predictions.py"))
    at.run(timeout=60)
    at.text_input(key="predict_designation").set_value(PAYLOAD)
    at = button(at, "Predict").click().run(timeout=60)
    assert not at.exception and len(inference.predictions()) == 1
    at = at.run(timeout=60)  # the history tab reads the inference log
    assert "dataframe" in elements_showing(at, "onerror")
    # Besides text-only elements: the explanation's highlighted title (Markdown made inert) and
    # its chart of terms (entities, not tags).
    assert elements_showing(at, "onerror") <= TEXT_ONLY | {"markdown", "plotly_chart"}
    (title,) = [m.value for m in at.markdown if "onerror" in m.value]
    assert title.startswith("**Title:** ")
    unwrapped = re.sub(r":(green|red)-background\[", "", title)
    markup = r"(?<!\\)([<\[`!]|:(?=[A-Za-z]))"  # what inert() escapes: tags, links, :colour[]
    assert not re.search(markup, unwrapped.removeprefix("**Title:** "))
    (chart,) = [c.proto.spec for c in at.get("plotly_chart") if "onerror" in c.proto.spec]
    assert "<img" not in chart and "&lt;img" in chart


def test_stored_titles_show_only_as_text_in_the_product_explorer(
    database: Database, dataset: DatasetManager
) -> None:
    loaded(dataset)
    with database.engine.begin() as conn:
        conn.execute(update(loaded_products).values(designation=PAYLOAD, description=PAYLOAD))
    at = AppTest.from_file(str(REPO_ROOT / "app" / "pages" / "2_Dataset.py"), default_timeout=60)
    at.session_state["dataset_tab"] = "Product explorer"
    at.run()
    assert not at.exception
    assert "dataframe" in elements_showing(at, "onerror")
    assert elements_showing(at, "onerror") <= TEXT_ONLY


@pytest.mark.parametrize(
    "header",
    [
        "![x](http://127.0.0.1:9/beacon.png),title",
        "<img src=x onerror=alert(1)>,title",
        ":red[look here] $x$,title",
        "x" * 5_000 + ",title",
    ],
)
def test_a_csv_header_is_not_echoed_as_markdown(header: str) -> None:
    with pytest.raises(BatchFileError) as refused:
        parse_batch_csv(f"{header}\nPiscine,a\n".encode())
    message = str(refused.value)
    assert "needs a 'designation' column (found: title and 1 column name not shown" in message
    assert header.split(",")[0][:20] not in message
