"""Text → terms exactly as a fitted ``TfidfVectorizer``'s own analyzer, without scikit-learn.

The serving process must not import scikit-learn (with pandas, pyarrow and scipy.stats it costs
about 170 MiB of resident memory), so the few analyzers the project's pipelines use are written
out here, step for step as scikit-learn 1.9 does them (``_preprocess``, ``_word_ngrams``,
``_char_ngrams``, ``_char_wb_ngrams``). :mod:`core.serving.compile` checks, for every compiled
model, that these terms equal the vectorizer's own on the verification texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

AnalyzerKind = Literal["word", "char", "char_wb"]
AccentStrip = Literal["ascii", "unicode"] | None
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's _VectorizerMixin._white_spaces


@dataclass(frozen=True)
class AnalyzerSpec:
    """What a vectorizer's analyzer does: enough to rebuild it, nothing fitted."""

    kind: AnalyzerKind
    ngram_range: tuple[int, int]
    lowercase: bool
    strip_accents: AccentStrip
    token_pattern: str
    # core.train.text_head(limit=...) as the vectorizer's preprocessor: the text's first ``limit``
    # characters (all if 0), lower-cased; it then replaces lowercase and strip_accents.
    head_limit: int | None = None

    def build(self) -> Callable[[str], list[str]]:
        """The analyzer: one text to its list of terms (with repeats, in order)."""
        preprocess = self._preprocess()
        min_n, max_n = self.ngram_range
        if self.kind == "word":
            pattern = re.compile(self.token_pattern)
            if pattern.groups > 1:
                raise ValueError("more than one capturing group in the token pattern")
            findall = pattern.findall
            return lambda text: _word_ngrams(findall(preprocess(text)), min_n, max_n)
        if self.kind == "char":
            return lambda text: _char_ngrams(preprocess(text), min_n, max_n)
        return lambda text: _char_wb_ngrams(preprocess(text), min_n, max_n)

    def build_words(self) -> Callable[[str], list[str]]:
        """For ``char_wb``: the words whose n-grams, in order, are the analyzer's terms.

        ``char_wb`` n-grams never cross a word, so a model can look each word's n-grams up once
        and reuse them (:class:`core.serving.compiled.TermWeights` does).
        """
        if self.kind != "char_wb":
            raise ValueError(f"only char_wb terms come word by word, not {self.kind}")
        preprocess = self._preprocess()
        return lambda text: _WHITE_SPACES.sub(" ", preprocess(text)).split()

    def word_terms(self, word: str) -> list[str]:
        """For ``char_wb``: the n-grams of one word (of :meth:`build_words`)."""
        return _char_wb_ngrams(word, *self.ngram_range)

    def _preprocess(self) -> Callable[[str], str]:
        limit = self.head_limit
        if limit is not None:
            return lambda text: (text[:limit] if limit else text).lower()
        return _preprocessor(self.lowercase, self.strip_accents)


def _preprocessor(lowercase: bool, strip_accents: AccentStrip) -> Callable[[str], str]:
    strip = {None: None, "ascii": _strip_ascii, "unicode": _strip_unicode}[strip_accents]
    if strip is None:
        return str.lower if lowercase else _identity
    if lowercase:
        return lambda text: strip(text.lower())
    return strip


def _identity(text: str) -> str:
    return text


def _strip_unicode(text: str) -> str:
    try:  # ASCII text has no accent: skip the normalisation, as scikit-learn does
        text.encode("ASCII", errors="strict")
        return text
    except UnicodeEncodeError:
        normalized = unicodedata.normalize("NFKD", text)
        return "".join([c for c in normalized if not unicodedata.combining(c)])


def _strip_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ASCII", "ignore").decode("ASCII")


def _word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    # scikit-learn's order (the tokens, then every 2-gram in order, then 3-grams...), with each
    # n-gram built by map/zip in C rather than a Python loop over positions.
    if max_n == 1:
        return tokens
    terms = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        terms.extend(map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False)))
    return terms


def _char_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    text = _WHITE_SPACES.sub(" ", text)
    length = len(text)
    if min_n == 1:
        grams = list(text)
        min_n += 1
    else:
        grams = []
    append = grams.append
    for n in range(min_n, min(max_n + 1, length + 1)):
        for i in range(length - n + 1):
            append(text[i : i + n])
    return grams


def _char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    text = _WHITE_SPACES.sub(" ", text)
    grams: list[str] = []
    append = grams.append
    for word in text.split():
        word = f" {word} "
        length = len(word)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(word[offset : offset + n])
            while offset + n < length:
                offset += 1
                append(word[offset : offset + n])
            if offset == 0:  # a word shorter than n counts once, as in scikit-learn
                break
    return grams
