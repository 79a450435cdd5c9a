"""Each service's :class:`~core.restarts.policy.RestartRecord`, kept as ``<name>.restarts.json``
beside its PID file, so the Infrastructure page and ``local_stack status`` (other processes) read
what the ``make run`` loop did."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from pathlib import Path

from core.restarts.policy import RestartRecord
from core.runtime_files import replace_private

log = logging.getLogger(__name__)


class RestartLedger:
    """Reads and writes restart records under ``run_dir``, one small JSON file per service."""

    def __init__(self, run_dir: Path) -> None:
        self._run_dir = run_dir

    def read(self, name: str) -> RestartRecord:
        """The service's record; an empty one when there is none or it cannot be read.

        Args:
            name: The service.

        Returns:
            Its record (a damaged file is logged and read as empty: the page must still render).
        """
        path = self._path(name)
        try:
            data = json.loads(path.read_text())
            known = {f.name for f in fields(RestartRecord)}
            values = {k: v for k, v in data.items() if k in known}
            values["crashes"] = tuple(values.get("crashes", ()))
            return RestartRecord(**values)
        except FileNotFoundError:
            return RestartRecord()
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("unreadable restart record %s (%s): read as empty", path, exc)
            return RestartRecord()

    def write(self, name: str, record: RestartRecord) -> None:
        """Replace the service's record atomically (a reader sees the old file or the new one).

        Args:
            name: The service.
            record: Its new record.
        """
        self._run_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        replace_private(path, json.dumps(asdict(record)).encode())

    def _path(self, name: str) -> Path:
        return self._run_dir / f"{name}.restarts.json"
