"""Data-lifecycle benchmark: the full 84,916-row catalogue on SQLite and PostgreSQL, side by side.

    .venv/bin/python bench/data_lifecycle.py [--rows N] [--repeat N] [--write docs/BENCHMARKS.md]

Measures generate + import, Initialize (40 %), one +3 % load, and the Dataset page's render time
(Streamlit AppTest, median of several runs after a warm-up) at 100 % loaded. PostgreSQL is the
server at 127.0.0.1:5432 (override with RAKUTEN_TEST_PG_URL), in a database created and dropped
here. Also compares COPY with multi-row INSERT for the PostgreSQL import, the choice made in
``core/data/store.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import BENCH_ACTOR, elapsed  # noqa: E402
from bench.markdown import publish, run_line  # noqa: E402
from core.data import loading  # noqa: E402
from core.data.importer import read_labelled_csv  # noqa: E402
from core.data.store import import_products, split_holdout  # noqa: E402
from core.data.synthetic import generate_catalogue  # noqa: E402
from core.db.engine import ensure_schema, make_engine  # noqa: E402
from core.db.tables import metadata, source_pool  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "RAKUTEN_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
GOALS = {"import": 10.0, "next_batch": 1.0, "page": 1.5}


@dataclass
class Result:
    backend: str
    generate: float
    validate: float
    import_: float
    initialize: float
    next_batch: float
    page: list[float]


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"rakuten_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


TABS = ("Class distribution", "Text statistics", "Product explorer")


def page_render_seconds(url: str, repeat: int) -> list[float]:
    """Median render time of the Dataset page with each of its tabs open."""
    from streamlit.testing.v1 import AppTest

    from core.settings import get_settings

    os.environ["RAKUTEN_DATABASE_URL"] = url
    get_settings.cache_clear()
    page = str(Path(__file__).resolve().parents[1] / "app" / "pages" / "2_Dataset.py")
    AppTest.from_file(page, default_timeout=120).run()  # warm-up: imports, schema check
    medians = []
    for tab in TABS:
        times = []
        for _ in range(repeat):
            at = AppTest.from_file(page, default_timeout=120)
            at.session_state["dataset_tab"] = tab
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            assert not at.exception and not at.error, (at.exception, at.error)
        medians.append(statistics.median(times))
    import streamlit as st

    st.cache_resource.clear()
    return medians


def run_backend(backend: str, url: str, rows: int, repeat: int) -> Result:
    generate_s = elapsed(lambda: generate_catalogue(rows, seed=42))
    frame = generate_catalogue(rows, seed=42)
    csv_bytes = frame.to_csv(index=False).encode()
    validate_s = elapsed(lambda: read_labelled_csv(csv_bytes))
    engine = make_engine(url)
    ensure_schema(engine)
    import_s = elapsed(
        lambda: import_products(
            engine, frame, source="bench", holdout_fraction=0.15, seed=42, actor=BENCH_ACTOR
        )
    )
    init_s = elapsed(lambda: loading.initialize(engine, 4_000, BENCH_ACTOR))
    next_s = elapsed(lambda: loading.load_next_batch(engine, 300, BENCH_ACTOR))
    while loading.load_next_batch(engine, 300, BENCH_ACTOR).target_bp < loading.FULL_BP:
        pass
    engine.dispose()
    page_s = page_render_seconds(url, repeat)
    return Result(backend, generate_s, validate_s, import_s, init_s, next_s, page_s)


def postgres_insert_strategies(url: str, frame: pd.DataFrame) -> tuple[float, float]:
    """Seconds to write the pool with COPY (what the importer does) and with multi-row INSERT."""
    engine = make_engine(url)
    metadata.drop_all(engine)
    ensure_schema(engine)
    pool = split_holdout(frame, 0.15, 42).pool
    copy_s = elapsed(
        lambda: import_products(
            engine,
            frame,
            source="bench",
            holdout_fraction=0.15,
            seed=42,
            replace=True,
            actor=BENCH_ACTOR,
        )
    )

    def multirow_insert() -> None:
        with engine.begin() as conn:
            conn.execute(source_pool.delete())
            conn.execute(insert(source_pool), pool.to_dict("records"))

    insert_s = elapsed(multirow_insert) * len(frame) / len(pool)  # same row count as the import
    engine.dispose()
    return copy_s, insert_s


def report(results: list[Result], copy_vs_insert: tuple[float, float], rows: int) -> str:
    lines = [
        "## Data lifecycle",
        "",
        f"Command: `.venv/bin/python bench/data_lifecycle.py --rows {rows} --write "
        "docs/BENCHMARKS.md`",
        f"{run_line()}. {rows:,} rows, one run per backend, page render = median of AppTest "
        "runs after a warm-up, at 100 % loaded.",
        "",
        "| step | goal | " + " | ".join(r.backend for r in results) + " | PostgreSQL / SQLite |",
        "| --- | --- | " + " | ".join("---" for _ in results) + " | --- |",
    ]
    measures: list[tuple[str, float | None, Callable[[Result], float]]] = [
        ("generate catalogue", None, lambda r: r.generate),
        ("read + validate the same rows as a CSV file", None, lambda r: r.validate),
        ("import (holdout split + bulk insert)", None, lambda r: r.import_),
        ("**generate + import**", GOALS["import"], lambda r: r.generate + r.import_),
        ("Initialize (40 %)", None, lambda r: r.initialize),
        ("one +3 % load", GOALS["next_batch"], lambda r: r.next_batch),
    ]
    for i, tab in enumerate(TABS):
        label = f"Dataset page render at 100 %, {tab} tab open"
        measures.append((label, GOALS["page"], lambda r, i=i: r.page[i]))
    for label, goal, measure in measures:
        values = [measure(r) for r in results]
        goal_text = f"< {goal:g} s" if goal else ""
        cells = " | ".join(
            f"{v:.2f} s" + (" ✅" if goal and v < goal else " ❌" if goal else "") for v in values
        )
        ratio = f"{values[1] / values[0]:.2f}×" if len(values) == 2 and values[0] else ""
        if label.startswith(("generate catalogue", "read + validate")):
            ratio = "same work (noise)"  # no database involved: the spread is the machine's
        lines.append(f"| {label} | {goal_text} | {cells} | {ratio} |")
    copy_s, insert_s = copy_vs_insert
    lines += [
        "",
        f"PostgreSQL import with COPY: {copy_s:.2f} s; the same rows with SQLAlchemy's "
        f"multi-row INSERT: {insert_s:.2f} s (INSERT / COPY = {insert_s / copy_s:.1f}×).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=84_916)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_backend("SQLite", f"sqlite:///{tmp}/bench.db", args.rows, args.repeat))
    with postgres_database() as url:
        results.append(run_backend("PostgreSQL", url, args.rows, args.repeat))
        copy_vs_insert = postgres_insert_strategies(url, generate_catalogue(args.rows, seed=42))
    publish(report(results, copy_vs_insert, args.rows), "## Data lifecycle", args.write)


if __name__ == "__main__":
    main()
