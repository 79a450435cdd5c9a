"""docs/BENCHMARKS.md upkeep shared by the benchmark scripts: each owns one "## …" section."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HEADER = "# Benchmarks\n\nEvery number here was produced by the command shown above it.\n\n"


def write_section(path: Path, title: str, section: str) -> None:
    """Replace the section headed ``title`` (``"## …"``) in ``path``, append it, or create the file.

    Args:
        path: The Markdown file.
        title: The section's heading line, e.g. ``"## Train flow"``.
        section: The new section, starting with that heading.
    """
    current = path.read_text() if path.exists() else HEADER
    start = current.find(title + "\n")
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + section
    else:
        end = current.find("\n## ", start + 1)
        updated = current[:start] + section + (current[end + 1 :] if end != -1 else "")
    path.write_text(updated)


def publish(section: str, title: str, path: Path | None) -> None:
    """Print the section and, given ``path`` (the ``--write`` option), write it there too."""
    sys.stdout.write(section + "\n")
    if path:
        write_section(path, title, section)


def run_line(load: float | None = None) -> str:
    """``Run: <when> UTC, <machine>, <n> cores[ (shared; load average …)], Python <version>``.

    Args:
        load: The 1-minute load average when the benchmark started, if it is to be reported.
    """
    shared = f" (shared; load average {load:.2f} at start)" if load is not None else ""
    return (
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} "
        f"cores{shared}, Python {platform.python_version()}"
    )


def check(ok: bool) -> str:
    """The mark of a goal met or missed."""
    return "✅" if ok else "❌"
