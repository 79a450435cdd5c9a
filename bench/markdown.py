"""docs/BENCHMARKS.md upkeep shared by the benchmark scripts: each owns one "## …" section."""

from __future__ import annotations

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
