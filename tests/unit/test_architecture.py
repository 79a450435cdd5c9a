"""Layering: core/ is the domain and never imports Streamlit, the app or the API."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import REPO_ROOT

FORBIDDEN_IN_CORE = ("streamlit", "app", "api")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_core_module_imports_nothing_from_the_ui_or_the_api(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN_IN_CORE}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_import_linter_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is not installed in this environment"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_app_is_importable_the_way_streamlit_runs_it(tmp_path: Path) -> None:
    """`streamlit run app/Home.py` puts only app/ on sys.path; the install provides the rest."""
    script = (
        "import sys; sys.path[0] = sys.argv[1];"
        "import app.bootstrap, app.components.dataset, core.data.loading"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(REPO_ROOT / "app")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
