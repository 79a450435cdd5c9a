"""Training page widgets: the hyperparameter form and the live flow-run panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st
from pydantic import ValidationError

from app import state
from app.records import FlowRunInfo, LogLine
from core.train import CLASSIFIERS, PRESETS, TrainConfig

WEIGHTS = ["none", "balanced"]
LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
STATE_ICONS = {
    "COMPLETED": ":material/check_circle:",
    "FAILED": ":material/error:",
    "CRASHED": ":material/error:",
    "CANCELLED": ":material/cancel:",
    "RUNNING": ":material/progress_activity:",
}


# What each preset costs, measured with bench/preset_ranking.py on the built-in catalogue
# (30,000 rows, seeds 42 and 7; docs/BENCHMARKS.md): mean fit CPU time relative to the
# Default's, and mean holdout weighted F1. Re-measure when a preset changes.
PRESET_COSTS: dict[str, tuple[float, float]] = {
    "Default: words + characters, softmax SVM": (1.00, 0.882),
    "Fast: small word vocabulary, SGD": (0.40, 0.856),
}
COSTS_MEASURED_ON = "the built-in catalogue (30,000 rows, 2 seeds)"


def preset_cost(name: str) -> str:
    """One line saying what a preset costs next to the Default, as measured."""
    default = next(iter(PRESETS))
    if name not in PRESET_COSTS or default not in PRESET_COSTS:
        return "Not measured yet."
    fit, f1 = PRESET_COSTS[name]
    if name == default:
        return f"Weighted F1 {f1:.3f} on {COSTS_MEASURED_ON}; the other presets are compared to it."
    return (
        f"Fit time {fit:.2f}× the Default's, weighted F1 {f1:.3f} "
        f"(Default {PRESET_COSTS[default][1]:.3f}), measured on {COSTS_MEASURED_ON}."
    )


@dataclass(frozen=True)
class TrainRequest:
    """A training run the person asked for."""

    config: TrainConfig
    auto_promote: bool

    @property
    def parameters(self) -> dict[str, object]:
        """The train flow's parameters (the flows manager adds who asked)."""
        return {"config": self.config.model_dump(), "auto_promote": self.auto_promote}


def train_form(loaded_rows: int, disabled_reason: str | None = None) -> TrainRequest | None:
    """Preset, hyperparameters and the Train button; out-of-range values are refused here.

    ``disabled_reason`` (the role training needs) disables the button and says why.
    """
    preset_name = st.selectbox("Preset", list(PRESETS), key=state.TRAINING_PRESET)
    preset = PRESETS[preset_name]
    st.caption(preset_cost(preset_name))
    fields = TrainConfig.model_fields
    with st.form("train_form", border=False):
        left, middle, right = st.columns(3)
        classifier = left.selectbox(
            "Classifier",
            list(CLASSIFIERS),
            format_func=CLASSIFIERS.__getitem__,
            index=list(CLASSIFIERS).index(preset.classifier),
        )
        c = left.number_input(
            "C (inverse regularisation)",
            value=preset.c,
            min_value=0.0,
            format="%.3f",
            help=fields["c"].description,
        )
        class_weight = left.selectbox(
            "Class weights", WEIGHTS, index=WEIGHTS.index(preset.class_weight)
        )
        max_features = middle.number_input(
            "Word vocabulary (max features)",
            value=preset.max_features,
            step=10_000,
            help="1,000 – 500,000",
        )
        word_ngram_max = middle.slider("Longest word n-gram", 1, 3, preset.word_ngram_max)
        min_df = middle.number_input("Min. document frequency", value=preset.min_df, step=1)
        char_ngrams = right.checkbox(
            "Character n-grams", value=preset.char_ngrams, help=fields["char_ngrams"].description
        )
        char_min, char_max = right.slider(
            "Character n-gram lengths", 1, 6, (preset.char_ngram_min, preset.char_ngram_max)
        )
        max_iter = right.number_input("Max. iterations", value=preset.max_iter, step=50)
        auto_promote = right.checkbox(
            "Promote to champion if the gate passes", value=True, key=state.TRAINING_AUTO_PROMOTE
        )
        submitted = st.form_submit_button(
            "Train",
            type="primary",
            icon=":material/model_training:",
            disabled=loaded_rows == 0 or disabled_reason is not None,
            help=disabled_reason,
        )
    if loaded_rows == 0:
        st.warning("No products are loaded yet: initialize the data on the Dataset page first.")
    if not submitted:
        return None
    try:
        config = TrainConfig(
            classifier=classifier,
            c=c,
            class_weight=class_weight,
            max_features=max_features,
            word_ngram_max=word_ngram_max,
            min_df=min_df,
            char_ngrams=char_ngrams,
            char_ngram_min=char_min,
            char_ngram_max=char_max,
            max_iter=max_iter,
            char_max_features=preset.char_max_features,
            char_text_limit=preset.char_text_limit,
            seed=preset.seed,
        )
    except ValidationError as exc:
        problems = "\n".join(
            f"- **{'.'.join(map(str, e['loc']))}**: {e['msg']}" for e in exc.errors()
        )
        st.error(f"Some hyperparameters are out of range:\n{problems}")
        return None
    return TrainRequest(config, auto_promote)


def render_flow_run(run: FlowRunInfo, logs: list[LogLine]) -> None:
    """The state of a flow run, its failure message if any, and its latest log lines."""
    icon = STATE_ICONS.get(run.state_type, ":material/schedule:")
    st.markdown(f"{icon} **{run.flow or 'flow'} run `{run.name}`** — {run.state_name}")
    if run.failed:
        st.error(f"The {run.flow or 'flow'} run failed: {run.message or run.state_name}")
    waiting = (datetime.now(UTC) - run.created).total_seconds() if run.created else 0
    if run.state_name == "Late" or (run.state_type == "SCHEDULED" and waiting > 30):
        st.warning(
            "No flows worker has picked this run up yet. Is the worker running? "
            "(`make run` starts it; `python -m core.local_stack status` shows it.)"
        )
    if logs:
        st.code("\n".join(_log_line(line) for line in logs[-15:]), language=None)


def _log_line(line: LogLine) -> str:
    return f"{line.at:%H:%M:%S} {LEVELS.get(line.level, str(line.level)):<7} {line.message}"
