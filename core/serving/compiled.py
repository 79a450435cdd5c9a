"""A fitted TF-IDF + linear classifier pipeline as plain arrays: its probabilities in numpy.

``Pipeline.predict_proba`` on one product spends about 98 % of its time in scikit-learn's and
pandas' per-call machinery (validation in every step, the feature union's dispatch, pandas'
``fillna``); the arithmetic is tens of microseconds. :class:`CompiledModel` keeps only what the
arithmetic needs — each vectorizer's analyzer, vocabulary and idf, the stacked coefficients and
the link function — and computes the same numbers, float32 steps included, for a whole batch at
once. It imports neither scikit-learn nor pandas, so a serving process that holds one stays small.
It is built from a fitted pipeline by :mod:`core.serving.compile`, which also checks its answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any, Literal, Protocol

import numpy as np
from scipy import sparse

from core.features import combine_text
from core.serving.analyzers import AnalyzerSpec

Link = Literal["softmax", "ovr_sigmoid", "binary_sigmoid"]
LINKS: tuple[Link, ...] = ("softmax", "ovr_sigmoid", "binary_sigmoid")
WORD_CACHE = 100_000  # words whose character n-gram ids are kept (a few MiB)
_DERIVED = ("_analyze", "_words", "_word_ids")


class ProductScorer(Protocol):
    """Class probabilities of products given as their two raw text fields."""

    @property
    def classes(self) -> np.ndarray:
        """Class labels, in the order of the probability columns."""
        ...

    def predict_proba_products(
        self, designations: Sequence[str | None], descriptions: Sequence[str | None]
    ) -> np.ndarray:
        """One row of probabilities per product, columns in ``classes`` order."""
        ...


@dataclass(frozen=True, eq=False)
class TermWeights:
    """One fitted ``TfidfVectorizer``: terms → counts → (1 + log) → × idf → l2 norm."""

    analyzer: AnalyzerSpec
    vocabulary: dict[str, int] = field(repr=False)
    idf: np.ndarray | None = field(repr=False)  # None: use_idf=False
    dtype: np.dtype[Any]
    sublinear_tf: bool
    binary: bool
    norm: Literal["l2"] | None
    offset: int  # first column of this vectorizer in the feature union's output
    _analyze: Callable[[str], list[str]] = field(init=False, repr=False)
    _words: Callable[[str], list[str]] | None = field(init=False, repr=False)
    _word_ids: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_analyze", self.analyzer.build())
        words = self.analyzer.build_words() if self.analyzer.kind == "char_wb" else None
        object.__setattr__(self, "_words", words)
        object.__setattr__(self, "_word_ids", {})

    def __getstate__(self) -> dict[str, Any]:  # the analyzers and the cache are rebuilt
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def width(self) -> int:
        """How many columns (vocabulary terms) this vectorizer produces."""
        return len(self.vocabulary)

    def weights(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, union columns and TF-IDF values of every known term of ``texts``.

        Row-major with columns ascending within a row, like scikit-learn's sorted CSR output.
        """
        ids, lengths = self._term_ids(texts)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        keys, counts = np.unique(rows * self.width + ids, return_counts=True)
        rows, columns = np.divmod(keys, self.width)
        values = counts.astype(self.dtype)
        if self.binary:
            values[:] = 1
        if self.sublinear_tf:
            np.log(values, out=values)
            values += 1
        if self.idf is not None:
            values *= self.idf[columns]
        if self.norm == "l2":
            # As sparsefuncs_fast: squares in the data's dtype, summed in order in float64,
            # and each value divided by the float64 root, then stored back in its dtype.
            squares = (values * values).astype(np.float64)
            norms = np.sqrt(np.bincount(rows, weights=squares, minlength=len(texts)))
            values = (values / norms[rows]).astype(self.dtype)
        return rows, columns + self.offset, values

    def _term_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids of the known terms of all texts, and how many per text."""
        if self._words is not None:
            return self._word_by_word_ids(texts)
        terms = [self._analyze(text) for text in texts]  # the only per-text Python
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        flat = list(chain.from_iterable(terms))
        ids = np.fromiter(
            map(self.vocabulary.get, flat, repeat(-1)), dtype=np.int64, count=len(flat)
        )
        known = ids >= 0
        rows = np.repeat(np.arange(len(texts)), lengths)[known]
        return ids[known], np.bincount(rows, minlength=len(texts))

    def _word_by_word_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        # Character n-grams stay inside a word, and product text repeats its words: each word's
        # known n-gram ids are looked up once and kept (a bounded cache: cleared when full).
        assert self._words is not None
        cache, split = self._word_ids, self._words
        per_text = [split(text) for text in texts]
        missing = {w for words in per_text for w in words if w not in cache}
        if len(cache) + len(missing) > WORD_CACHE:
            cache.clear()
        for word in missing:
            found = map(self.vocabulary.get, self.analyzer.word_terms(word), repeat(-1))
            ids = np.fromiter(found, dtype=np.int64)
            cache[word] = ids[ids >= 0]
        chunks = [[cache[w] for w in words] for words in per_text]
        lengths = np.fromiter((sum(map(len, c)) for c in chunks), dtype=np.int64, count=len(chunks))
        flat = list(chain.from_iterable(chunks))
        return (np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)), lengths


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Cleaning → TF-IDF feature union → linear scores → link, on whole batches.

    Attributes:
        classes: Class labels, in the order of the probability columns.
        features: The union's vectorizers, in column order.
        coef_t: Coefficients, one row per union column (``coef_.T``, contiguous, its dtype).
        intercept: One per score column.
        link: ``softmax`` (multinomial), ``ovr_sigmoid`` (one-vs-rest logistic, normalised) or
            ``binary_sigmoid`` (one score column for two classes).
        temperature: Scores are divided by it before the link (1 for plain classifiers).
        scaled: Whether the classifier scales its scores by a temperature: it then takes the
            softmax in float64 whatever the scores' dtype (the contract of core.train's SVM).
    """

    classes: np.ndarray
    features: tuple[TermWeights, ...]
    coef_t: np.ndarray = field(repr=False)
    intercept: np.ndarray = field(repr=False)
    link: Link
    temperature: float = 1.0
    scaled: bool = False

    def __post_init__(self) -> None:
        width = sum(f.width for f in self.features)
        outputs = 1 if self.link == "binary_sigmoid" else len(self.classes)
        if self.coef_t.shape != (width, outputs) or self.intercept.shape != (outputs,):
            raise ValueError(
                f"coefficients of shape {self.coef_t.shape} and intercept of shape "
                f"{self.intercept.shape} do not fit {width} features and {outputs} score columns"
            )
        if self.link not in LINKS or not self.temperature > 0:
            raise ValueError(f"unknown link {self.link!r} or temperature {self.temperature} <= 0")

    def predict_proba_products(
        self, designations: Sequence[str | None], descriptions: Sequence[str | None]
    ) -> np.ndarray:
        """Probabilities of raw products, cleaned as the pipeline's text step does."""
        if len(designations) != len(descriptions):
            raise ValueError(
                f"{len(designations)} designations but {len(descriptions)} descriptions"
            )
        return self.predict_proba(list(map(combine_text, designations, descriptions)))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities of already cleaned texts (``core.features.combine_text``)."""
        return self._link(self.decision_function(texts))

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Linear scores: TF-IDF rows × coefficients + intercept, float64."""
        parts = [f.weights(texts) for f in self.features]
        rows = np.concatenate([p[0] for p in parts])
        columns = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2] for p in parts])  # the union's dtype, as hstack's
        if len(parts) > 1:  # each part is row-major: interleave them by row, columns ascending
            order = np.argsort(rows, kind="stable")
            rows, columns, values = rows[order], columns[order], values[order]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        matrix = sparse.csr_array(
            (values, columns, indptr), shape=(len(texts), self.coef_t.shape[0])
        )
        # In the fitted arrays' own dtypes: a float32 model scores in float32, as scikit-learn.
        scores: np.ndarray = matrix @ self.coef_t + self.intercept
        return scores

    def _link(self, scores: np.ndarray) -> np.ndarray:
        if self.scaled:
            scores = scores.astype(np.float64) / self.temperature
        if self.link == "softmax":  # as sklearn.utils.extmath.softmax
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
            return scores
        positive = _expit(scores)
        if self.link == "binary_sigmoid":
            return np.hstack([1 - positive, positive])
        # One-vs-rest, normalised like LinearClassifierMixin._predict_proba_lr.
        total = positive.sum(axis=1)
        all_zero = total == 0
        if all_zero.any():
            positive[all_zero, :] = 1
            total[all_zero] = positive.shape[1]
        positive /= total[:, None]
        return positive


def _expit(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-x) without overflow warnings for large negative x (scipy.special.expit's value).
    out = np.empty_like(x)
    negative = x < 0
    e = np.exp(x[negative])
    out[negative] = e / (1 + e)
    out[~negative] = 1 / (1 + np.exp(-x[~negative]))
    return out
