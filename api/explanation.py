"""``POST /predict`` with ``explain``: the answer's explanation (:mod:`core.serving.explain`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.serving.explain import ClassEvidence, Explanation

EXPLAINED_TERMS = 10  # terms listed per class; the rest is summed in other_terms
EXPLAINED_WORDS = 40  # words of the text given their share, the strongest first


class Term(BaseModel):
    """One term of the product's text and what it added to the class's score."""

    term: str = Field(description="A word (or word n-gram), or a character n-gram (chars)")
    kind: Literal["word", "chars"]
    tfidf: float = Field(description="Its TF-IDF weight in this product")
    coefficient: float = Field(description="The model's weight of the term for the class")
    contribution: float = Field(description="tfidf × coefficient: what it adds to the score")


class WordShare(BaseModel):
    """A word of the text and its share of the class's score (its terms' contributions)."""

    word: str
    contribution: float


class ClassExplanation(BaseModel):
    """One class's linear score, taken apart: ``intercept + Σ terms + other_terms = score``."""

    code: int
    score: float = Field(description="The model's linear score of the class for this product")
    intercept: float
    terms: list[Term] = Field(description="The strongest terms by absolute contribution")
    other_terms: float = Field(description="The summed contributions of the terms not listed")
    words: list[WordShare] = Field(
        description="Words of the text by absolute share, strongest first"
    )


class ExplanationOut(BaseModel):
    """Why the predicted class, and the strongest evidence for the runner-up."""

    predicted: ClassExplanation
    runner_up: ClassExplanation | None
    scores: str = Field(
        description="What the explained scores are, and how they give the probabilities"
    )


def explanation_out(found: Explanation) -> ExplanationOut:
    """The response body of an explanation."""
    return ExplanationOut(
        predicted=_class(found.predicted),
        runner_up=_class(found.runner_up) if found.runner_up else None,
        scores=found.scores,
    )


def _class(evidence: ClassEvidence) -> ClassExplanation:
    words = sorted(evidence.words.items(), key=lambda item: -abs(item[1]))[:EXPLAINED_WORDS]
    return ClassExplanation(
        code=evidence.code,
        score=evidence.score,
        intercept=evidence.intercept,
        terms=[
            Term(
                term=t.term,
                kind=t.kind,
                tfidf=t.tfidf,
                coefficient=t.coefficient,
                contribution=t.contribution,
            )
            for t in evidence.terms
        ],
        other_terms=evidence.other_terms,
        words=[WordShare(word=w, contribution=c) for w, c in words],
    )
