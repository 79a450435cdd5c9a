"""Predictions: classify products with the served model, in batch, and review them with feedback."""

from __future__ import annotations

from contextlib import suppress

import streamlit as st

from app import state
from app.bootstrap import current_actor, get_managers, require_identity
from app.components.batch import batch_progress, batch_upload, render_batch
from app.components.permissions import reason
from app.components.prediction_history import history_filters, history_panel, render_accuracy
from app.components.predictions import (
    ProductInput,
    feedback_saved,
    prediction_panel,
    product_form,
    serving_banner,
)
from app.managers.errors import ManagerError
from app.records import ApiHealth, PredictionResult
from core.access.permissions import Action

st.set_page_config(
    page_title="Predictions · Control Room", page_icon=":material/bolt:", layout="wide"
)
require_identity()  # who-am-I in the sidebar; stops when nobody may act yet
managers = get_managers()
dataset, inference = managers.dataset, managers.inference
registry, predictions = managers.registry, managers.predictions
actor = current_actor()
no_feedback = reason(actor, Action.FEEDBACK)  # predicting is open to every role
st.title("Predictions")
if flash := st.session_state.pop(state.PREDICT_FLASH, None):
    st.success(flash)

health: ApiHealth | None = None
try:
    health = predictions.health()
except ManagerError as exc:
    st.error(str(exc), icon=":material/cloud_off:")
try:
    champion = registry.champion()
except ManagerError:
    champion = None  # only compared with what is served: MLflow's outage shows on Training
champion_version = champion.version if champion else None
ready = health is not None and health.model_loaded
docs = managers.services.tool_links().get("api") if ready else None  # links cost a health check
serving_banner(health, champion_version, docs)

single, batch, past = st.tabs(["Classify a product", "Batch from a CSV", "History & feedback"])

with single:
    try:
        examples = dataset.examples()
    except ManagerError:
        examples = []  # the form works without them
    product = product_form(examples)
    if product is not None and not ready:
        st.error("No prediction: the API is not serving a model (see above).")
    elif product is not None:
        try:
            result = predictions.predict(product.designation, product.description, explain=True)
        except ManagerError as exc:
            st.error(str(exc))
        else:
            st.session_state[state.PREDICT_LAST] = result
            st.session_state[state.PREDICT_PRODUCT] = product
            # The API logs in batches: let the history below include this prediction (a database
            # problem is reported by the history itself).
            with suppress(ManagerError):
                inference.wait_until_logged(result.request_id)
    last: PredictionResult | None = st.session_state.get(state.PREDICT_LAST)
    asked: ProductInput | None = st.session_state.get(state.PREDICT_PRODUCT)
    true_code = prediction_panel(last, champion_version, asked, no_feedback) if last else None
    if last is not None and true_code is not None:
        try:
            inference.record_feedback(last.request_id, true_code, actor)
        except ManagerError as exc:
            st.error(str(exc))
        else:
            feedback_saved(last, true_code)

with batch:
    if (upload := batch_upload(ready)) is not None:
        name, products = upload
        try:
            results = predictions.predict_batch(products, batch_progress(len(products)))
        except ManagerError as exc:
            st.error(str(exc))
        else:
            st.session_state[state.PREDICT_BATCH] = (name, results)
    if saved := st.session_state.get(state.PREDICT_BATCH):
        render_batch(*saved)

with past:
    filters = history_filters()
    try:
        history = inference.predictions(
            code=filters.code, search=filters.search, since=filters.since
        )
        accuracy = inference.feedback_accuracy(since=filters.since)
    except ManagerError as exc:
        st.error(str(exc))
        st.stop()
    if marks := history_panel(history, accuracy, no_feedback):
        try:
            for request_id, code in marks.items():
                inference.record_feedback(request_id, code, actor)
        except ManagerError as exc:
            st.error(str(exc))
        else:
            st.session_state[state.PREDICT_FLASH] = f"{len(marks)} feedback mark(s) saved."
            st.session_state.pop(state.PREDICT_HISTORY_EDITOR, None)
            st.rerun()
    render_accuracy(history)
    st.button("Refresh", icon=":material/refresh:", help="Predictions land within a second")
