"""Why a linear text model chose a category: each term's exact share of the class's score.

A compiled model's score for class ``c`` is ``intercept[c] + Σ tfidf[t] × coef[t, c]`` over the
terms ``t`` of the product's text, so every term's contribution is exact, and they add up (with
the intercept) to the score. A term of the character vectorizer sits inside one word (``char_wb``),
and a word n-gram covers its words: splitting each contribution over the words it came from
gives a score per word of the text, which is what the Predictions page highlights.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from weakref import WeakKeyDictionary

import numpy as np

from core.features import combine_text
from core.serving.compiled import CompiledModel, ProductScorer, TermWeights

TermKind = Literal["word", "chars"]
_NOTES = {
    "softmax": "multinomial scores: the probabilities are their softmax",
    "ovr_sigmoid": "one-vs-rest logistic scores: each class's probability is the sigmoid of its "
    "score, normalised over the classes",
    "binary_sigmoid": "the logistic score of the second class (the first class's is its negative)",
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One term of the product's text and what it added to a class's score."""

    term: str
    kind: TermKind  # word (or word n-gram) | chars (a character n-gram inside a word)
    tfidf: float  # the term's TF-IDF weight in this product
    coefficient: float  # the model's weight of the term for the class

    @property
    def contribution(self) -> float:
        """What the term adds to the class's score (negative: takes away)."""
        return self.tfidf * self.coefficient


@dataclass(frozen=True)
class ClassEvidence:
    """A class's linear score taken apart: intercept + every term's contribution.

    ``terms`` are the strongest terms by absolute contribution (all of them when asked for);
    ``other_terms`` is the sum of the contributions of those left out, so
    ``intercept + Σ terms + other_terms == score``. ``words`` gives each word of the text its
    share: a word n-gram's contribution is split evenly over its words, and a character n-gram's
    over its occurrences (each inside one word).
    """

    code: int
    score: float
    intercept: float
    terms: tuple[Evidence, ...]
    other_terms: float
    words: dict[str, float]


@dataclass(frozen=True)
class Explanation:
    """Why the model chose ``predicted`` over ``runner_up``, and what its scores mean."""

    predicted: ClassEvidence
    runner_up: ClassEvidence | None
    scores: str  # what the explained scores are (e.g. "multinomial scores: …")


class NotExplainable(ValueError):
    """The model has no linear scores to take apart."""


def explain_product(
    scorer: ProductScorer, designation: str | None, description: str | None, *, top: int | None
) -> Explanation:
    """:func:`explain` for whatever serves: a compiled model, or a pipeline's linear view.

    Raises:
        NotExplainable: The scorer is a pipeline with no linear scores (``linear_view``).
    """
    if isinstance(scorer, CompiledModel):
        return explain(scorer, designation, description, top=top)
    view = getattr(scorer, "linear_view", None)
    if view is None:
        raise NotExplainable("its classifier has no linear scores to take apart")
    model, note = view
    probabilities = scorer.predict_proba_products([designation], [description])[0]
    return explain(model, designation, description, top=top, note=note, probabilities=probabilities)


def explain(
    model: CompiledModel,
    designation: str | None,
    description: str | None,
    *,
    top: int | None = 10,
    note: str = "",
    probabilities: np.ndarray | None = None,
) -> Explanation:
    """The evidence for the model's most probable class and for the runner-up.

    Args:
        model: A compiled linear model.
        designation: The product's title.
        description: Its description (may be empty).
        top: How many terms to list per class (``None``: every term of the text).
        note: What to say about the scores instead of the link's own description (e.g. for a
            model whose probabilities are not a function of these scores alone).
        probabilities: The served probabilities of the product, in ``model.classes`` order,
            when they are not ``model``'s own (a calibrated model): they say which classes are
            the predicted one and the runner-up.
    """
    text = combine_text(designation, description)
    if probabilities is None:
        probabilities = model.predict_proba([text])[0]
    order = np.argsort(-probabilities, kind="stable")
    terms = [_terms(weights, text) for weights in model.features]
    columns = np.concatenate([t[0] for t in terms]) if terms else np.zeros(0, dtype=np.int64)
    tfidf = np.concatenate([t[1] for t in terms]).astype(np.float64) if terms else np.zeros(0)
    names = [name for t in terms for name in t[2]]
    kinds: list[TermKind] = [t[3] for t in terms for _ in t[2]]
    splits = [split for t in terms for split in t[4]]

    def evidence(index: int) -> ClassEvidence:
        coefficient, intercept = _class_weights(model, index)
        weights = coefficient[columns]
        contributions = tfidf * weights
        ranked = np.argsort(-np.abs(contributions), kind="stable")
        listed = ranked if top is None else ranked[:top]
        others = float(contributions[ranked[len(listed) :]].sum())
        words: defaultdict[str, float] = defaultdict(float)
        for contribution, split in zip(contributions.tolist(), splits, strict=True):
            for word, share in split:
                words[word] += contribution * share
        return ClassEvidence(
            code=int(model.classes[index]),
            score=intercept + float(contributions.sum()),
            intercept=intercept,
            terms=tuple(
                Evidence(names[i], kinds[i], float(tfidf[i]), float(weights[i])) for i in listed
            ),
            other_terms=others,
            words=dict(words),
        )

    runner_up = evidence(int(order[1])) if len(order) > 1 else None
    return Explanation(evidence(int(order[0])), runner_up, note or _note(model))


def _note(model: CompiledModel) -> str:
    if model.scaled:
        return (
            "linear SVM scores: the probabilities are the softmax of the scores divided by the "
            f"calibrated temperature {model.temperature:.3g}"
        )
    return _NOTES[model.link]


def _class_weights(model: CompiledModel, index: int) -> tuple[np.ndarray, float]:
    """The coefficient column (float64, one per union column) and intercept of class ``index``."""
    if model.link == "binary_sigmoid":  # one score column: the second class's; the first's is -
        sign = 1.0 if index == 1 else -1.0
        return sign * model.coef_t[:, 0].astype(np.float64), sign * float(model.intercept[0])
    return model.coef_t[:, index].astype(np.float64), float(model.intercept[index])


_Split = tuple[tuple[str, float], ...]  # (word, share of the term's contribution)


def _terms(
    weights: TermWeights, text: str
) -> tuple[np.ndarray, np.ndarray, list[str], TermKind, list[_Split]]:
    """The vectorizer's terms in ``text``: columns, TF-IDF values, names, kind, word splits."""
    _, columns, values = weights.weights([text])
    names = _names(weights, columns - weights.offset)
    if weights.analyzer.kind == "char_wb":
        return columns, values, names, "chars", _char_splits(weights, text, names)
    kind: TermKind = "word" if weights.analyzer.kind == "word" else "chars"
    splits: list[_Split] = [
        tuple((word, 1 / len(name.split())) for word in name.split()) for name in names
    ]
    if weights.analyzer.kind == "char":  # n-grams may cross words: attributed to none
        splits = [() for _ in names]
    return columns, values, names, kind, splits


def _char_splits(weights: TermWeights, text: str, names: Sequence[str]) -> list[_Split]:
    """Each n-gram's contribution shared over its occurrences, each occurrence to its word."""
    occurrences: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for word in weights.analyzer.build_words()(text):
        for gram in weights.analyzer.word_terms(word):
            occurrences[gram][word] += 1
    splits = []
    for name in names:
        found = occurrences[name]
        total = sum(found.values())
        splits.append(tuple((word, count / total) for word, count in found.items()))
    return splits


_REVERSED: WeakKeyDictionary[TermWeights, np.ndarray] = WeakKeyDictionary()  # terms by column


def _names(weights: TermWeights, columns: np.ndarray) -> list[str]:
    """The vocabulary terms of the vectorizer's own ``columns`` (the reversed vocabulary is built
    once per loaded model, and goes with it)."""
    terms = _REVERSED.get(weights)
    if terms is None:
        terms = np.empty(weights.width, dtype=object)
        for term, column in weights.vocabulary.items():
            terms[column] = term
        _REVERSED[weights] = terms
    return [str(t) for t in terms[columns]]


WORD = re.compile(r"\S+")


def word_scores(text: str, words: dict[str, float]) -> list[tuple[str, float]]:
    """``text`` cut into runs of non-space and space, each run with its word's score (0 if none).

    A word of the product's text is looked up lower-cased, and so are the word tokens inside it
    (``"console,"`` holds ``"console"``): what the page needs to colour the title and description.
    """
    pieces: list[tuple[str, float]] = []
    end = 0
    for match in WORD.finditer(text):
        if match.start() > end:
            pieces.append((text[end : match.start()], 0.0))
        token = match.group().lower()
        score = words.get(token, 0.0)
        inner = re.findall(r"(?u)\b\w\w+\b", token)
        if inner != [token]:
            score += sum(words.get(word, 0.0) for word in inner)
        pieces.append((match.group(), score))
        end = match.end()
    if end < len(text):
        pieces.append((text[end:], 0.0))
    return pieces
