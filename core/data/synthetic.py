"""Built-in synthetic stand-in for the Rakuten France training catalogue (no download needed).

Rows mimic the challenge's ``X_train``/``Y_train`` join: French marketplace titles, optional
HTML-laden descriptions and the 27 ``prdtypecode`` labels with their real class counts. The
text of each row mixes the category's own vocabulary with its group's shared words, its
confusable neighbours' words and generic marketplace filler, so that a TF-IDF + logistic
regression baseline scores in the same range as on the real task (weighted F1 around 0.8-0.9).
Words come in several spellings and with a long tail of rare derived words and model numbers
(``core.data.synthetic_variants``), so that, as on real text, character n-grams beat words.
"""

from __future__ import annotations

import itertools
from string import Formatter

import numpy as np
import pandas as pd

from core.data import synthetic_vocab as vocab
from core.data.categories import CATEGORIES, FULL_SIZE
from core.data.synthetic_html import SENTENCE_COUNT_P, descriptions
from core.data.synthetic_variants import (
    code_letters,
    rare_words,
    reference_codes,
    spelling_variants,
    stems,
)

COLUMNS: tuple[str, ...] = ("productid", "imageid", "designation", "description", "prdtypecode")
MIN_PER_CLASS = 5
MIN_ROWS = MIN_PER_CLASS * len(CATEGORIES)
MAX_ROWS = 10 * FULL_SIZE  # larger catalogues are allowed (proportional) up to this bound

# Probability of each vocabulary source (own, group-shared, neighbours', generic) per slot,
# for the three row clarities (clear, mixed, vague). Vague rows carry almost no own words,
# which is what makes neighbours confusable.
_TITLE_MIX = np.array(
    [[0.80, 0.10, 0.03, 0.07], [0.45, 0.20, 0.25, 0.10], [0.05, 0.40, 0.40, 0.15]]
)
_SENTENCE_MIX = np.array(
    [[0.55, 0.15, 0.05, 0.25], [0.30, 0.20, 0.25, 0.25], [0.05, 0.30, 0.35, 0.30]]
)
_MIXED_BASE, _MIXED_HARD = 0.20, 0.15  # P(mixed) = base + hard * hardness
_VAGUE_BASE, _VAGUE_HARD = 0.06, 0.12  # P(vague) = base + hard * hardness
_LABEL_NOISE = 0.03  # rows whose text is written as a neighbour's product
_FOREIGN_SHARE = 0.05  # English/German titles
_GENERIC_TITLE_SHARE = 0.5  # share of vague rows that get a generic title template
_UPPER_TITLE_SHARE = 0.03
_RARE_TITLE_P, _CODE_TITLE_P = 0.7, 0.3  # titles with a rare word / a model number added
_DETAIL_P = 0.8  # descriptions whose second sentence names rare words and a model number
_SPEC_REPEATS, _SENTENCE_REPEATS = 10, 3  # filled variants per spec / sentence template
_MIXED_SLOTS = ("noun", "brand", "attr", "spec", "stem")
_VARIED = ("noun", "brand", "attr", "spec", "sentence")  # pools written in several spellings
_EXTRAS = np.array(vocab.FOREIGN_EXTRAS, dtype=object)
_NUMBERS: dict[str, tuple[str, ...]] = {
    "n": tuple(str(i) for i in range(2, 10)),
    "k": tuple(str(i) for i in range(10, 100)),
    "K": tuple(str(i) for i in range(100, 1000)),
    "y": tuple(str(i) for i in range(1955, 2020)),
    "a": tuple(str(i) for i in vocab.DIMENSIONS),
    "b": tuple(str(i) for i in vocab.DIMENSIONS),
    "dd": tuple(f"{i:02d}" for i in range(1, 29)),
    "mm": tuple(f"{i:02d}" for i in range(1, 13)),
    "month": vocab.MONTHS,
}


def class_counts(n_rows: int | None = None) -> dict[int, int]:
    """Rows per category for a catalogue of ``n_rows`` rows.

    Args:
        n_rows: Total rows; ``None`` means the real size (84,916) with the real counts. Other
            sizes get counts proportional to the real ones (largest-remainder rounding, at
            least ``MIN_PER_CLASS`` per class), summing exactly to ``n_rows``.

    Returns:
        Mapping ``prdtypecode -> count`` in ``CATEGORIES`` order.

    Raises:
        ValueError: ``n_rows`` is not an integer in ``[MIN_ROWS, MAX_ROWS]``.
    """
    if n_rows is None:
        return {c.code: c.train_count for c in CATEGORIES}
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer):
        raise ValueError(f"n_rows must be an integer or None, got {n_rows!r}")
    n = int(n_rows)
    if not MIN_ROWS <= n <= MAX_ROWS:
        raise ValueError(
            f"n_rows must be between {MIN_ROWS:,} ({MIN_PER_CLASS} per class) and {MAX_ROWS:,}, "
            f"got {n:,}"
        )
    real = np.array([c.train_count for c in CATEGORIES], dtype=np.int64)
    quota = real * n / FULL_SIZE
    floor = np.floor(quota).astype(np.int64)
    counts = np.maximum(floor, MIN_PER_CLASS)
    # Largest remainder first; classes lifted to the minimum already got more than their share,
    # so they rank last. Stable sorting keeps ties (and so the result) deterministic.
    priority = np.where(counts > floor, -1.0, quota - floor)
    order = np.argsort(-priority, kind="stable")
    diff = n - int(counts.sum())
    while diff > 0:  # at most a couple of passes: diff < number of classes after flooring
        for i in order[:diff]:
            counts[i] += 1
        diff = n - int(counts.sum())
    for i in itertools.cycle(order[::-1]):  # overshoot from the minimum: trim smallest remainders
        if diff == 0:
            break
        if counts[i] > MIN_PER_CLASS:
            counts[i] -= 1
            diff += 1
    return {c.code: int(k) for c, k in zip(CATEGORIES, counts, strict=True)}


def generate_catalogue(n_rows: int | None = None, seed: int = 42) -> pd.DataFrame:
    """Generate a synthetic Rakuten-like labelled product catalogue.

    Args:
        n_rows: Number of rows; ``None`` for the real size (84,916 rows, real class counts).
            See :func:`class_counts` for smaller or larger sizes.
        seed: Seed of the ``numpy`` generator; the same seed gives the same DataFrame.

    Returns:
        DataFrame with columns ``productid`` (int64, unique), ``imageid`` (int64, unique),
        ``designation`` (str, non-empty), ``description`` (str, ``""`` when empty) and
        ``prdtypecode`` (int64), in shuffled order with a ``RangeIndex``.

    Raises:
        ValueError: ``n_rows`` is out of range (see :func:`class_counts`).
    """
    counts = class_counts(n_rows)
    rng = np.random.default_rng(seed)
    codes = np.array(list(counts), dtype=np.int64)
    labels = np.repeat(codes, list(counts.values()))
    total = labels.size
    content = labels.copy()  # the category whose vocabulary writes the row
    noisy = rng.random(total) < _LABEL_NOISE
    for code in codes:
        rows = np.flatnonzero(noisy & (labels == code))
        neighbours = np.array(vocab.NEIGHBOURS[int(code)], dtype=np.int64)
        content[rows] = neighbours[rng.integers(0, neighbours.size, rows.size)]
    order = rng.permutation(total)
    labels, content = labels[order], content[order]

    designation = np.empty(total, dtype=object)
    sentences = [np.empty(total, dtype=object) for _ in SENTENCE_COUNT_P]
    generic = _source_pools(vocab.GENERIC, rng)
    shared = {name: _source_pools(pools, rng) for name, pools in vocab.GROUPS.items()}
    own = {int(code): _source_pools(vocab.VOCAB[int(code)], rng, int(code)) for code in codes}
    for code in codes:
        rows = np.flatnonzero(content == code)
        if rows.size:
            title, texts = _category_rows(int(code), rows.size, own, shared, generic, rng)
            designation[rows] = title
            for column, text in zip(sentences, texts, strict=True):
                column[rows] = text
    description = descriptions(content, sentences, rng)
    upper = np.flatnonzero(rng.random(total) < _UPPER_TITLE_SHARE)
    designation[upper] = [title.upper() for title in designation[upper]]

    productid = rng.choice(4_280_000_000, size=total, replace=False) + 10_000_000
    imageid = rng.choice(330_000_000, size=total, replace=False) + 1_000_000_000
    return pd.DataFrame(
        {
            "productid": productid.astype(np.int64),
            "imageid": imageid.astype(np.int64),
            "designation": designation,
            "description": description,
            "prdtypecode": labels,
        },
        columns=list(COLUMNS),
    )


def _fill(template: str, pools: dict[str, tuple[str, ...]], rng: np.random.Generator) -> str:
    """Fill one template's placeholders with random pool words and numbers."""
    fields = [name for _, name, _, _ in Formatter().parse(template) if name]
    values: dict[str, str] = {}
    for name, u in zip(fields, rng.random(len(fields)), strict=True):
        pool = pools[name] if name in pools else _NUMBERS[name]
        values[name] = pool[int(u * len(pool))]
    return template.format_map(values)


def _source_pools(
    pools: dict[str, tuple[str, ...]], rng: np.random.Generator, code: int = 0
) -> dict[str, np.ndarray]:
    """Turn one vocabulary table into pick-ready object arrays, filling specs and sentences.

    Word, spec and sentence pools hold every entry in several spellings; ``stem`` holds the
    stems rare words are made of, ``letters`` the letter blocks of the category's model numbers.
    """
    fill_from = {
        "noun": pools.get("nouns") or vocab.GENERIC["nouns"],
        "brand": pools.get("brands") or vocab.GENERIC["brands"],
        "attr": pools.get("attrs") or vocab.GENERIC["attrs"],
        "gen": vocab.GENERIC["attrs"],
    }
    specs = [_fill(t, fill_from, rng) for t in pools.get("specs", ()) for _ in range(_SPEC_REPEATS)]
    fill_from["spec"] = tuple(specs) or vocab.GENERIC["specs"]
    texts = [
        _fill(t, fill_from, rng)
        for t in pools.get("sentences", ())
        for _ in range(_SENTENCE_REPEATS)
    ]
    out = {
        "noun": pools.get("nouns", ()),
        "brand": pools.get("brands", ()),
        "attr": pools.get("attrs", ()),
        "spec": specs,
        "sentence": texts,
    }
    arrays = {key: spelling_variants(np.array(v, dtype=object), rng) for key, v in out.items()}
    words = [*pools.get("nouns", ()), *pools.get("brands", ()), *pools.get("attrs", ())]
    arrays["stem"] = stems(words)
    arrays["letters"] = code_letters(pools.get("brands", ()), code)
    for key in ("templates", "foreign"):
        arrays[key] = np.array(pools.get(key, ()), dtype=object)
    return arrays


def _pick_mixed(
    sources: list[np.ndarray], clarity: np.ndarray, mix: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pick one word per row, each from a source drawn with the row's clarity mix."""
    sizes = np.array([s.size for s in sources])
    probs = mix[clarity] * (sizes > 0)  # a missing source is never drawn
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    source = np.minimum((rng.random(clarity.size)[:, None] > cum).sum(axis=1), len(sources) - 1)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    index = offsets[source] + (rng.random(clarity.size) * sizes[source]).astype(np.int64)
    return np.concatenate(sources)[index]


def _category_rows(
    code: int, m: int, own: dict, shared: dict, generic: dict, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Titles and four candidate description sentences for ``m`` rows written as ``code``."""
    hardness = vocab.HARDNESS.get(code, 0.0)
    p_vague = _VAGUE_BASE + _VAGUE_HARD * hardness
    p_mixed = _MIXED_BASE + _MIXED_HARD * hardness
    clarity = np.searchsorted([1 - p_mixed - p_vague, 1 - p_vague], rng.random(m), side="right")
    mine, group = own[code], shared[vocab.CATEGORY_GROUP[code]]
    nbrs = [own[n] for n in vocab.NEIGHBOURS[code] if n in own]

    def sources(slot: str) -> list[np.ndarray]:
        neighbour = np.concatenate([n[slot] for n in nbrs]) if nbrs else np.array([], object)
        return [mine[slot], group[slot], neighbour, generic[slot]]

    words = {slot: _pick_mixed(sources(slot), clarity, _TITLE_MIX, rng) for slot in _MIXED_SLOTS}
    for slot, pool in (("gen", generic["attr"]), ("fnoun", mine["foreign"]), ("fextra", _EXTRAS)):
        words[slot] = pool[rng.integers(0, pool.size, m)]
    rare = rare_words(words["stem"], _pick_mixed(sources("stem"), clarity, _TITLE_MIX, rng), rng)
    digits = 3 + code % 4  # model numbers of a category have their own length
    codes = reference_codes(mine["letters"], digits, m, rng)
    texts = [
        _pick_mixed(sources("sentence"), clarity, _SENTENCE_MIX, rng) for _ in SENTENCE_COUNT_P
    ]
    for before, after in itertools.combinations(texts, 2):
        # A sentence said twice reads as a generator artefact: swap in generic filler.
        repeated = np.flatnonzero(after == before)
        after[repeated] = generic["sentence"][
            rng.integers(0, generic["sentence"].size, repeated.size)
        ]
    detail = np.flatnonzero(rng.random(m) < _DETAIL_P)
    first_stem = _pick_mixed(sources("stem"), clarity, _TITLE_MIX, rng)
    more = rare_words(first_stem, _pick_mixed(sources("stem"), clarity, _TITLE_MIX, rng), rng)
    texts[1][detail] = rare[detail] + " " + more[detail] + ", " + codes[detail] + "."

    templates = [*mine["templates"], *vocab.GENERIC["templates"], *vocab.FOREIGN_TEMPLATES]
    n_own, n_gen = mine["templates"].size, len(vocab.GENERIC["templates"])
    choice = rng.integers(0, n_own, m)
    generic_title = (clarity == 2) & (rng.random(m) < _GENERIC_TITLE_SHARE)
    choice[generic_title] = n_own + rng.integers(0, n_gen, int(generic_title.sum()))
    foreign = rng.random(m) < _FOREIGN_SHARE
    choice[foreign] = n_own + n_gen + rng.integers(0, len(vocab.FOREIGN_TEMPLATES), foreign.sum())
    title = np.empty(m, dtype=object)
    for t in np.unique(choice):
        rows = np.flatnonzero(choice == t)
        title[rows] = _render(templates[t], {k: v[rows] for k, v in words.items()})
    with_rare = np.flatnonzero(~foreign & (rng.random(m) < _RARE_TITLE_P))
    title[with_rare] = title[with_rare] + " " + more[with_rare]
    with_code = np.flatnonzero(rng.random(m) < _CODE_TITLE_P)
    title[with_code] = title[with_code] + " " + codes[with_code]
    return title, texts


def _render(template: str, words: dict[str, np.ndarray]) -> np.ndarray:
    """Vectorised template fill: concatenate literal parts and per-row word arrays."""
    out: np.ndarray | str = ""
    for literal, field, _, _ in Formatter().parse(template):
        out = out + literal if literal else out
        if field:
            out = out + words[field]
    return out if isinstance(out, np.ndarray) else np.full(1, out, dtype=object)
