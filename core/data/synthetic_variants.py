"""Surface forms for the synthetic catalogue: spelling variants and a long tail of rare words.

Real listings write one word many ways (typos, accents dropped, doubled letters, glued units,
shouted or lower-case) and carry a long tail of words a model meets once: derived and compound
forms, brand-like names, model numbers and reference codes. Such words share character n-grams
with their category's vocabulary but not word identity, which is why character n-grams beat
words on real product text. Everything here works on whole pools or whole row arrays, so that a
full-size catalogue still generates in about a second.
"""

from __future__ import annotations

import re

import numpy as np

VARIANTS = 16  # surface forms kept per pool entry (the first is the entry itself)
_OWN_REPEATS = 4  # draws of the entry's own spelling per VARIANTS - 1 draws of a variant
_NEARBY = "azertyuiopqsdfghjklmwxcvbn"  # French keyboard rows: a mistyped letter is a near key
_ACCENTS = str.maketrans("éèêëàâäîïôöùûüçÉÈÊËÀÂÎÏÔÛÇ", "eeeeaaaiioouuucEEEEAAIIOUC")
_UNIT_GAP = re.compile(r"(\d) (?=[A-Za-zµ°])")
_WORD = re.compile(r"[^\W\d_]{4,}")
_STEM_END = re.compile(r"(?:es|s|x|e)$")
_PREFIXES = (
    "Mini", "Maxi", "Super", "Multi", "Pro", "Eco", "Néo", "Ultra", "Micro", "Auto", "Bi", "Tri",
)  # fmt: skip
_SUFFIXES = (
    "s", "x", "ette", "ettes", "eur", "euse", "age", "ier", "ière", "ique", "ine", "o", "ia",
    "ix", "on", "ard", "elle", "ité", "isme", "al", "eau", "ex", "an", "y",
)  # fmt: skip
_CODE_PREFIXES = ("Réf. ", "Ref ", "Réf : ", "Modèle ", "Art. ", "Code ", "EAN ", "")
_CODE_LETTERS = np.array(list("ABCDEFGHJKLMNPRSTVXZ"), dtype=object)


def spelling_variants(entries: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each entry followed by its variants, weighted so the entry itself is half the draws.

    Args:
        entries: Pool entries (words, names, filled specs or sentences).
        rng: The catalogue's generator.

    Returns:
        A flat object array: a uniform draw from it gives an entry's own spelling with
        probability 1/2 and one of ``VARIANTS - 1`` variants otherwise (one edit per ~25
        characters of text: a typo, a dropped accent, a doubled letter, a glued unit, case).
    """
    size = len(entries)
    if size == 0:
        return np.array([], dtype=object)
    kinds = rng.integers(0, 6, size=(size, VARIANTS - 1, 4))
    spots = rng.random((size, VARIANTS - 1, 4))
    variants = np.empty((size, VARIANTS - 1), dtype=object)
    for i, entry in enumerate(entries):
        edits = 1 + min(3, len(entry) // 25)
        for j in range(VARIANTS - 1):
            text = entry
            for kind, spot in zip(kinds[i, j, :edits], spots[i, j, :edits], strict=True):
                text = _edit(text, int(kind), float(spot))
            variants[i, j] = text
    own = np.repeat(np.asarray(entries, dtype=object), _OWN_REPEATS)
    return np.concatenate([own, variants.ravel()])


def _edit(text: str, kind: int, spot: float) -> str:
    """One edit of ``text``; ``spot`` in [0, 1) says where."""
    if kind == 0:
        stripped = text.translate(_ACCENTS)
        return stripped if stripped != text else text.lower()
    if kind == 1:
        glued = _UNIT_GAP.sub(r"\1", text, count=1)
        if glued != text:
            return glued
        return text.replace(" ", "", 1) if text.count(" ") == 1 else text.lower()
    words = list(_WORD.finditer(text))
    if not words:
        return text.upper() if kind == 2 else text.lower()
    word = words[int(spot * len(words))]
    w = word.group(0)
    i = 1 + int(spot * 997) % (len(w) - 2)  # never the first or the last letter
    if kind == 2:
        new = w[:i] + w[i + 1 :]  # a letter dropped
    elif kind == 3:
        new = w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]  # two letters swapped
    elif kind == 4:
        new = w[:i] + w[i] + w[i:]  # a letter doubled
    else:
        j = _NEARBY.find(w[i].lower())
        new = w[:i] + (_NEARBY[(j + 1) % len(_NEARBY)] if j >= 0 else w[i]) + w[i + 1 :]
    return text[: word.start()] + new + text[word.end() :]


def stems(entries: tuple[str, ...] | list[str]) -> np.ndarray:
    """Word stems of a category's own names: the material of its rare derived words."""
    found = {
        _STEM_END.sub("", word.lower())
        for entry in entries
        for word in _WORD.findall(entry)
        if not word.istitle() or len(word) > 4
    }
    return np.array(sorted(s for s in found if len(s) >= 4), dtype=object)


def rare_words(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Derived, compound or brand-like words, one per row, from two stems per row.

    Most are new to any vocabulary ("Minipiscinette", "Tondeus-sécat", "Kalvo250"): a word
    model sees each once or twice, a character model sees its category's stems in it.
    """
    m = a.size
    shape = rng.integers(0, 4, m)
    suffix = np.array(_SUFFIXES, dtype=object)[rng.integers(0, len(_SUFFIXES), m)]
    prefix = np.array(_PREFIXES, dtype=object)[rng.integers(0, len(_PREFIXES), m)]
    digits = rng.integers(2, 990, m).astype(str).astype(object)
    out = np.where(shape == 0, prefix + a, a + suffix)
    out = np.where(shape == 2, a + "-" + b, out)
    out = np.where(shape == 3, a + digits, out)
    return np.array([w.capitalize() for w in out], dtype=object)


def code_letters(brands: tuple[str, ...] | list[str], code: int) -> np.ndarray:
    """The letter blocks a category's model numbers start with (from its brands' initials)."""
    blocks = {
        "".join(part[0] for part in brand.split()[:2]).upper()[:2]
        + _CODE_LETTERS[(code + k) % _CODE_LETTERS.size]
        for k, brand in enumerate(brands)
        if brand[:1].isalpha()
    }
    return np.array(sorted(blocks) or ["XR"], dtype=object)


def reference_codes(letters: np.ndarray, digits: int, m: int, rng: np.random.Generator):
    """``m`` model numbers / references: "Réf. KLX-2045B", "klx2045", "Modèle KLX 20451"."""
    block = letters[rng.integers(0, letters.size, m)]
    number = rng.integers(10 ** (digits - 1), 10**digits, m).astype(str).astype(object)
    sep = np.array(["-", "", " ", "-"], dtype=object)[rng.integers(0, 4, m)]
    tail = np.where(rng.random(m) < 0.4, _CODE_LETTERS[rng.integers(0, _CODE_LETTERS.size, m)], "")
    code = block + sep + number + tail
    lower = rng.random(m) < 0.25
    code[lower] = [c.lower() for c in code[lower]]
    return np.array(_CODE_PREFIXES, dtype=object)[rng.integers(0, len(_CODE_PREFIXES), m)] + code
