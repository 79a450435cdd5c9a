"""DriftManager: the drift checks the monitor flow stored, and their Evidently reports."""

from __future__ import annotations

from pathlib import Path

from app.managers.database import Database
from app.managers.errors import ManagerError, NotFound
from core import drift_store
from core.drift_store import DriftCheck


class DriftManager:
    """Reads drift checks (rows in the database) and their reports (files under ``reports``)."""

    def __init__(self, database: Database, reports: Path) -> None:
        self._db = database
        self._reports = reports

    def checks(self, limit: int = 200) -> list[DriftCheck]:
        """The drift checks, newest first."""
        return self._db.read(lambda conn: drift_store.drift_checks(conn, limit))

    def latest(self) -> DriftCheck | None:
        """The last drift check, if any."""
        return next(iter(self.checks(limit=1)), None)

    def report(self, check: DriftCheck) -> str:
        """The Evidently HTML report of one drift check."""
        # Only the file's name is trusted: a row cannot point outside the reports folder.
        path = self._reports / Path(check.report_file).name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            gone = f"The report {check.report_file} is no longer in {path.parent}."
            raise NotFound(gone) from exc
        except OSError as exc:
            raise ManagerError(f"The report {path} cannot be read: {exc.strerror}.") from exc
