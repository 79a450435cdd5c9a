"""From a fitted scikit-learn pipeline to a :class:`~core.serving.compiled.CompiledModel`, checked.

The logged MLflow model stays the one source of truth: the compiled model is derived from it when
a version is loaded, and used only if its probabilities equal ``pipeline.predict_proba``'s within
:data:`TOLERANCE` on the verification products (and its analyzers give the vectorizers' own terms).
Anything it does not recognise — a calibrated classifier, a step added later — is served by the
pipeline itself (:class:`PipelinePredictor`), and a log line says why.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from core.features import combine_text
from core.serving.analyzers import AnalyzerSpec
from core.serving.compiled import CompiledModel, Link, ProductScorer, TermWeights
from core.train import INPUT_COLUMNS, TextColumns, text_head

log = logging.getLogger("core.serving")
TOLERANCE = 1e-6  # largest difference allowed between compiled and pipeline probabilities
_VECTORIZER_DEFAULTS = {"input": "content", "tokenizer": None}
_VERIFICATION = [  # what real listings throw at the text step: markup, entities, case, nothing
    ("", ""),
    ("Livre", None),
    ("<b>PISCINE</b> tubulaire &amp; b&acirc;che", "<p>Diam&egrave;tre 3,66 m<br/>bleu</p>"),
    ("Café crème ÉTÉ à la Française", "Être ou ne pas être, çà et là — déjà vu"),
    ("Kinderspielzeug für Mädchen", "Größe: 12×8 cm; Qualität: sehr gut!"),
    ("Console PS4 + 2 manettes", "&lt;br&gt; double-escaped &amp;amp;eacute; text"),
    ("zzzzqx unknownword xyzzy", "qwertyuiop asdfghjkl"),
    ("   spaced    out\ttitle\n", "\n\n  \t "),
    ("A", "b"),
    ("Réf. 3661234 XR-2045B 12V 500ml", "Lot de 2 — 100% coton, taille L/XL"),
]


class NotCompilable(ValueError):
    """The pipeline has a part the compiled model does not reproduce."""


class PipelinePredictor:
    """The fallback: the pipeline itself, called on a frame of the two text columns."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.classes = np.asarray(pipeline.classes_)

    @functools.cached_property
    def linear_view(self) -> tuple[CompiledModel, str] | None:
        """The pipeline's underlying linear scores as a compiled model, and what they are, for
        explaining a prediction (:mod:`core.serving.explain`); ``None`` when it has none."""
        try:
            return linear_view(self.pipeline)
        except NotCompilable:
            return None

    def predict_proba_products(
        self, designations: Sequence[str | None], descriptions: Sequence[str | None]
    ) -> np.ndarray:
        designation, description = INPUT_COLUMNS
        frame = pd.DataFrame({designation: list(designations), description: list(descriptions)})
        return np.asarray(self.pipeline.predict_proba(frame))


def serving_scorer(pipeline: Any, examples: Sequence[tuple[str, str]] = ()) -> ProductScorer:
    """The compiled model of ``pipeline`` when it answers the same, else the pipeline itself.

    Args:
        pipeline: A fitted pipeline (``classes_`` and ``predict_proba`` over the input columns).
        examples: Extra ``(designation, description)`` products to verify on.

    Returns:
        A :class:`CompiledModel`, or a :class:`PipelinePredictor` (logged, with the reason).
    """
    try:
        compiled = compile_pipeline(pipeline)
        verify(compiled, pipeline, examples)
    except NotCompilable as exc:
        log.warning("serving the pipeline itself, not a compiled model: %s", exc)
        return PipelinePredictor(pipeline)
    return compiled


def compile_pipeline(pipeline: Any) -> CompiledModel:
    """The pipeline's arrays as a :class:`CompiledModel` (not yet verified).

    Raises:
        NotCompilable: A step, vectorizer option or classifier it does not reproduce.
    """
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 3:
        raise NotCompilable(f"not a text → features → classifier pipeline: {_name(pipeline)}")
    text, features, classifier = (step for _, step in pipeline.steps)
    if type(text) is not TextColumns:
        raise NotCompilable(f"unknown text step {_name(text)}")
    weights = _features(features)
    link, temperature = _link(classifier)
    coef = classifier.coef_
    coef = coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef)
    return CompiledModel(
        classes=np.asarray(classifier.classes_),
        features=weights,
        coef_t=np.ascontiguousarray(coef.T),
        intercept=np.asarray(classifier.intercept_).reshape(-1),
        link=link,
        temperature=temperature or 1.0,
        scaled=temperature is not None,
    )


def verify(
    compiled: CompiledModel, pipeline: Any, examples: Sequence[tuple[str, str]] = ()
) -> float:
    """Check the compiled model against the pipeline; the largest probability difference.

    The products are :data:`_VERIFICATION`, ``examples`` and texts made of each vectorizer's own
    vocabulary (so that known terms of every vectorizer are scored, not only unknown ones).

    Raises:
        NotCompilable: An analyzer gives other terms, or a probability differs by > TOLERANCE.
    """
    products = [*_VERIFICATION, *examples, *_vocabulary_products(compiled)]
    designations = [p[0] for p in products]
    descriptions = [p[1] for p in products]
    texts = [combine_text(t, d) for t, d in products]
    vectorizers = _vectorizers(pipeline.steps[1][1])
    for weights, vectorizer in zip(compiled.features, vectorizers, strict=True):
        theirs, ours = vectorizer.build_analyzer(), weights.analyzer.build()
        if any(theirs(t) != ours(t) for t in texts):
            raise NotCompilable(f"the compiled analyzer differs from {vectorizer!r}")
    expected = PipelinePredictor(pipeline).predict_proba_products(designations, descriptions)
    found = compiled.predict_proba_products(designations, descriptions)
    if found.shape != expected.shape:
        raise NotCompilable(f"probabilities of shape {found.shape}, not {expected.shape}")
    worst = float(np.max(np.abs(found - expected)))
    if not worst <= TOLERANCE:
        raise NotCompilable(f"probabilities differ by {worst:.3g} (> {TOLERANCE:g})")
    log.info("compiled model verified on %d products (largest difference %.2g)", len(texts), worst)
    return worst


def _features(features: Any) -> tuple[TermWeights, ...]:
    """The feature step's vectorizers as :class:`TermWeights`, each at its union offset."""
    vectorizers = _vectorizers(features)
    offsets = np.cumsum([0] + [len(v.vocabulary_) for v in vectorizers])
    return tuple(_term_weights(v, int(o)) for v, o in zip(vectorizers, offsets, strict=False))


def _vectorizers(features: Any) -> list[TfidfVectorizer]:
    if type(features) is TfidfVectorizer:
        return [features]
    if type(features) is not FeatureUnion or features.transformer_weights:
        raise NotCompilable(f"unknown feature step {_name(features)}")
    found = [t for _, t in features.transformer_list]
    if not found or any(type(t) is not TfidfVectorizer for t in found):
        raise NotCompilable(f"feature union of {[_name(t) for t in found]}")
    return found


def _term_weights(vectorizer: TfidfVectorizer, offset: int) -> TermWeights:
    params = vectorizer.get_params()
    unknown = {k: params[k] for k, v in _VECTORIZER_DEFAULTS.items() if params[k] != v}
    head_limit = _head_limit(vectorizer.preprocessor)
    if vectorizer.preprocessor is not None and head_limit is None:
        unknown["preprocessor"] = vectorizer.preprocessor
    if vectorizer.stop_words is not None:
        unknown["stop_words"] = vectorizer.stop_words
    if vectorizer.analyzer not in ("word", "char", "char_wb"):
        unknown["analyzer"] = vectorizer.analyzer
    if vectorizer.strip_accents not in (None, "ascii", "unicode"):
        unknown["strip_accents"] = vectorizer.strip_accents
    if vectorizer.norm not in (None, "l2"):
        unknown["norm"] = vectorizer.norm
    if unknown:
        raise NotCompilable(f"vectorizer options not compiled: {unknown}")
    return TermWeights(
        analyzer=AnalyzerSpec(
            kind=vectorizer.analyzer,
            ngram_range=tuple(vectorizer.ngram_range),
            lowercase=bool(vectorizer.lowercase),
            strip_accents=vectorizer.strip_accents,
            token_pattern=vectorizer.token_pattern,
            head_limit=head_limit,
        ),
        vocabulary=vectorizer.vocabulary_,  # shared, not copied: the pipeline is dropped later
        idf=np.asarray(vectorizer.idf_) if vectorizer.use_idf else None,
        dtype=np.dtype(vectorizer.dtype),
        sublinear_tf=bool(vectorizer.sublinear_tf),
        binary=bool(vectorizer.binary),
        norm=vectorizer.norm,
        offset=offset,
    )


def linear_view(pipeline: Any) -> tuple[CompiledModel, str]:
    """A calibrated linear SVM's scores as a compiled model: the mean of its folds' SVMs.

    ``CalibratedClassifierCV`` averages the probabilities of one calibrated SVM per fold, which
    no linear model reproduces; the mean of the folds' decision functions is linear, though, and
    is what explaining such a model can state exactly. Its probabilities are not these scores'.

    Raises:
        NotCompilable: Not a text → features → calibrated linear classifier pipeline.
    """
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 3:
        raise NotCompilable(f"not a text → features → classifier pipeline: {_name(pipeline)}")
    classifier = pipeline.steps[2][1]
    folds = [c.estimator for c in getattr(classifier, "calibrated_classifiers_", ())]
    if not folds or not all(hasattr(f, "coef_") and hasattr(f, "intercept_") for f in folds):
        raise NotCompilable(f"classifier {_name(classifier)} has no linear scores")
    coef = np.mean([np.asarray(f.coef_, dtype=np.float64) for f in folds], axis=0)
    intercept = np.mean([np.asarray(f.intercept_, dtype=np.float64) for f in folds], axis=0)
    if coef.shape[0] != len(classifier.classes_):
        raise NotCompilable(f"{coef.shape[0]} score columns for {len(classifier.classes_)} classes")
    model = CompiledModel(
        classes=np.asarray(classifier.classes_),
        features=_features(pipeline.steps[1][1]),
        coef_t=np.ascontiguousarray(coef.T),
        intercept=intercept.reshape(-1),
        link="softmax",
    )
    note = (
        f"calibrated SVM: the mean of its {len(folds)} fold SVMs' linear scores are explained; "
        "its probabilities come from each fold's calibration, not from these scores alone"
    )
    return model, note


def _head_limit(preprocessor: Any) -> int | None:
    """``limit`` of a ``partial(text_head, limit=...)`` preprocessor; None for anything else."""
    if not isinstance(preprocessor, functools.partial) or preprocessor.func is not text_head:
        return None
    if preprocessor.args or set(preprocessor.keywords) - {"limit"}:
        return None
    return int(preprocessor.keywords.get("limit", 0))


def _link(classifier: Any) -> tuple[Link, float | None]:
    """The link function, and the temperature (None: the classifier has none)."""
    n_classes = len(getattr(classifier, "classes_", ()))
    rows = np.shape(getattr(classifier, "coef_", ()))[0] if hasattr(classifier, "coef_") else 0
    binary = n_classes == 2 and rows == 1
    if type(classifier) is LogisticRegression and (binary or rows == n_classes > 2):
        return ("binary_sigmoid" if binary else "softmax"), None
    if type(classifier) is SGDClassifier and classifier.loss == "log_loss":
        return ("binary_sigmoid" if binary else "ovr_sigmoid"), None
    temperature = getattr(classifier, "temperature_", None)
    if temperature is not None and (binary or rows == n_classes >= 2):
        # The softmax-of-scaled-scores contract (core.train's SVM); checked by verify().
        return ("binary_sigmoid" if binary else "softmax"), float(temperature)
    raise NotCompilable(f"classifier {_name(classifier)} is not compiled")


def _vocabulary_products(compiled: CompiledModel, count: int = 12) -> list[tuple[str, str]]:
    """Products made of vocabulary terms (every 97th term of each word vectorizer)."""
    words: list[str] = []
    for weights in compiled.features:
        terms = sorted(weights.vocabulary, key=weights.vocabulary.__getitem__)[::97]
        if weights.analyzer.kind == "word":
            words.extend(terms)
        else:  # character n-grams glued two by two make words that hit them
            words.extend("".join(terms[i : i + 2]).strip() for i in range(0, len(terms), 2))
    step = max(1, len(words) // count)
    return [
        (" ".join(words[i : i + step // 2 + 1]), " ".join(words[i + step // 2 : i + step]))
        for i in range(0, len(words), step)
    ][:count]


def _name(obj: Any) -> str:
    return type(obj).__name__
