"""Predictions: classify products with the served model, in batch, and review them with feedback."""

from __future__ import annotations

import streamlit as st

from app import state
from app.bootstrap import get_managers
from app.components.predictions import (
    BatchFileError,
    accuracy_chart,
    batch_results_table,
    feedback_picker,
    history_editor,
    history_filters,
    parse_batch_csv,
    product_form,
    render_prediction,
)
from app.components.text import inert
from app.links import tool_links
from app.managers.errors import ManagerError
from app.records import ApiHealth, PredictionResult
from core.data.categories import label_for
from core.data.export import to_safe_csv
from core.registry import champion as champion_of

st.set_page_config(page_title="Predictions · Control Room", page_icon=":material/bolt:",
                   layout="wide")  # fmt: skip
managers = get_managers()
database, mlflow, predictions = managers.database, managers.mlflow, managers.predictions
st.title("Predictions")
if flash := st.session_state.pop(state.PREDICT_FLASH, None):
    st.success(flash)

health: ApiHealth | None = None
try:
    health = predictions.health()
except ManagerError as exc:
    st.error(str(exc), icon=":material/cloud_off:")
try:
    champion = champion_of(mlflow.versions())
except ManagerError:
    champion = None
if health is not None and not health.model_loaded:
    st.warning(
        f"The API at {health.url} is up but serves no model: {health.last_error or 'loading'}. "
        "Promote a champion on the Training page; the API picks it up within "
        f"{health.poll_seconds:g} s.",
        icon=":material/hourglass_empty:",
    )
elif health is not None:
    line = f"Serving **v{health.version}** of the registry model from {health.url}"
    if champion is not None and champion.version != health.version:
        line += f" · :orange[champion is v{champion.version}: the API has not switched yet]"
    if docs := tool_links(managers).get("api"):
        line += f" · [API docs]({docs})"
    st.caption(line)
ready = health is not None and health.model_loaded
champion_version = champion.version if champion else None

single, batch, past = st.tabs(["Classify a product", "Batch from a CSV", "History & feedback"])

with single:
    try:
        examples = database.examples()
    except ManagerError:
        examples = None
    product = product_form(examples)
    if product is not None and ready:
        try:
            result = predictions.predict(product.designation, product.description)
        except ManagerError as exc:
            st.error(str(exc))
        else:
            st.session_state[state.PREDICT_LAST] = result
            try:  # the API logs in batches: let the history below include this prediction
                database.wait_until_logged(result.request_id)
            except ManagerError:
                pass  # the history reports the database problem itself
    elif product is not None:
        st.error("No prediction: the API is not serving a model (see above).")
    last: PredictionResult | None = st.session_state.get(state.PREDICT_LAST)
    if last is not None:
        render_prediction(last, champion_version)
        if (true_code := feedback_picker(last.request_id, last.code)) is not None:
            try:
                database.record_feedback(last.request_id, true_code)
            except ManagerError as exc:
                st.error(str(exc))
            else:
                verdict = "correct" if true_code == last.code else f"wrong (was {last.category})"
                st.success(f"Feedback saved: {label_for(true_code)} — the prediction was {verdict}")

with batch:
    st.caption(
        "A CSV with a `designation` column and optionally `description` (other columns are "
        "kept). Rows are sent to the API in chunks; every prediction lands in the history."
    )
    upload = st.file_uploader("Products to classify", type=["csv"], key=state.PREDICT_UPLOAD)
    if upload is not None and st.button("Predict all", type="primary", disabled=not ready):
        try:
            products = parse_batch_csv(upload.getvalue())
        except BatchFileError as exc:
            st.error(inert(f"{upload.name}: {exc}"))
        else:
            bar = st.progress(0.0, text=f"0 of {len(products):,} products")
            try:
                results = predictions.predict_batch(
                    products,
                    lambda done, total: bar.progress(
                        done / total, text=f"{done:,} of {total:,} products"
                    ),
                )
            except ManagerError as exc:
                st.error(str(exc))
            else:
                st.session_state[state.PREDICT_BATCH] = (upload.name, results)
    if saved := st.session_state.get(state.PREDICT_BATCH):
        name, results = saved
        st.success(f"{len(results):,} products of {inert(name)} classified.")
        batch_results_table(results)
        st.download_button(
            "Download the predictions (CSV)", to_safe_csv(results),
            file_name=f"predictions-{name}", mime="text/csv", icon=":material/download:",
        )  # fmt: skip

with past:
    filters = history_filters()
    try:
        history = database.predictions(
            code=filters.code, search=filters.search, since=filters.since
        )
        accuracy = database.feedback_accuracy(since=filters.since)
    except ManagerError as exc:
        st.error(str(exc))
        st.stop()
    shown_accuracy = f"{accuracy.accuracy:.1%}" if accuracy.accuracy is not None else "—"
    left, middle, right = st.columns(3)
    left.metric("Predictions", f"{len(history):,}", help="in this view (at most 500 shown)")
    middle.metric("With feedback", f"{accuracy.labelled:,}")
    right.metric(
        "Live accuracy", shown_accuracy, help="correct / marked, over the time range chosen"
    )
    if history.empty:
        st.info("No predictions here yet: classify a product, or widen the filters.")
    else:
        changes = history_editor(history)
        if changes and st.button(f"Save {len(changes)} feedback mark(s)", type="primary"):
            try:
                for request_id, code in changes.items():
                    database.record_feedback(request_id, code)
            except ManagerError as exc:
                st.error(str(exc))
            else:
                st.session_state[state.PREDICT_FLASH] = f"{len(changes)} feedback mark(s) saved."
                st.session_state.pop(state.PREDICT_HISTORY_EDITOR, None)
                st.rerun()
        if (figure := accuracy_chart(history)) is not None:
            st.plotly_chart(figure, width="stretch")
    st.button("Refresh", icon=":material/refresh:", help="Predictions land within a second")
