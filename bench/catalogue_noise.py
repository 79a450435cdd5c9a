"""Spelling noise for a copy of the built-in catalogue: an experiment, not a generator change.

Real marketplace listings spell the same word many ways: typos, words written without their
accents, glued units. The built-in catalogue now writes its pool words in several spellings
itself (``core.data.synthetic_variants``, after this experiment widened the char-vs-word gap);
:func:`add_noise` rewrites the text of a generated frame with more such variants, per word
occurrence rather than per pool entry, to see how the ranking moves with more noise.

Noise is given as ``name=rate`` pairs (see :data:`KINDS`), e.g. ``typos=0.15,accents=0.3``.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

import pandas as pd

from core.features import clean_text

KINDS: dict[str, str] = {
    "typos": "share of words of 4+ letters given one edit (drop, swap, double or replace a letter)",
    "accents": "share of rows written without accents (é → e)",
    "glue": "share of number + unit pairs written without the space (50 cm → 50cm)",
}
_WORD = re.compile(r"[^\W\d_]{4,}")
_NUMBER_UNIT = re.compile(r"(\d) (cm|mm|m|kg|g|ml|l|cl|go|gb|w|v|mah|pages|pcs|x)\b", re.I)
_NEARBY = "azertyuiopqsdfghjklmwxcvbn"  # French keyboard rows: a replaced letter is a near key


def parse_noise(text: str) -> dict[str, float]:
    """``"typos=0.15,accents=0.3"`` to ``{"typos": 0.15, "accents": 0.3}``.

    Raises:
        ValueError: An unknown kind, a missing ``=`` or a rate outside [0, 1].
    """
    noise: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in KINDS:
            raise ValueError(f"noise {part!r}: expected name=rate with name in {', '.join(KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"noise {part!r}: the rate must be a number") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"noise {part!r}: the rate must be between 0 and 1")
        noise[name] = rate
    return noise


def describe(noise: dict[str, float]) -> str:
    """``typos 15 %, accents 30 %`` (``none`` when empty)."""
    return ", ".join(f"{name} {rate:.0%}" for name, rate in noise.items()) or "none"


def _typo(rng: random.Random) -> Callable[[str], str]:
    def edit(word: str) -> str:
        i = rng.randrange(1, len(word) - 1)  # keep the first and last letters
        kind = rng.randrange(4)
        if kind == 0:
            return word[:i] + word[i + 1 :]
        if kind == 1:
            return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
        if kind == 2:
            return word[:i] + word[i] + word[i:]
        j = _NEARBY.find(word[i].lower())
        near = _NEARBY[(j + rng.choice((-1, 1))) % len(_NEARBY)] if j >= 0 else word[i]
        return word[:i] + near + word[i + 1 :]

    return edit


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _noisy(text: str, noise: dict[str, float], rng: random.Random) -> str:
    text = clean_text(text)  # noise goes into words, not into HTML tags or entities
    if rng.random() < noise.get("accents", 0.0):
        text = _strip_accents(text)
    glue = noise.get("glue", 0.0)
    if glue:
        text = _NUMBER_UNIT.sub(
            lambda m: m.group(0) if rng.random() >= glue else "".join(m.groups()), text
        )
    typos = noise.get("typos", 0.0)
    if typos:
        edit = _typo(rng)
        text = _WORD.sub(lambda m: edit(m.group(0)) if rng.random() < typos else m.group(0), text)
    return text


def add_noise(frame: pd.DataFrame, noise: dict[str, float], seed: int) -> pd.DataFrame:
    """A copy of ``frame`` whose designation and description carry ``noise`` (cleaned of HTML).

    Args:
        frame: A catalogue from :func:`core.data.synthetic.generate_catalogue`.
        noise: Rates per kind (see :data:`KINDS`); empty returns the frame unchanged.
        seed: Seed of the noise (the same seed gives the same text).

    Returns:
        The noisy copy; the other columns are unchanged.
    """
    if not noise:
        return frame
    rng = random.Random(seed)
    out = frame.copy()
    for column in ("designation", "description"):
        out[column] = [_noisy(text, noise, rng) for text in frame[column]]
    return out
