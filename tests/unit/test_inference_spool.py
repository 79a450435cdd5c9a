"""The inference log's spill files: round trip, rights, size cap, locking, torn lines."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.inference_log import InferenceRecord
from core.inference_spool import Spool, SpoolFull

AT = datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)


def record(n: int, title: str = "Piscine ronde") -> InferenceRecord:
    return InferenceRecord(f"req-{n}", AT, title, "<p>été</p>", 2583, 0.9, 3, 2.5, "batch")


def replay_all(spool: Spool) -> list[InferenceRecord]:
    rows: list[InferenceRecord] = []
    for path in spool.files():
        spool.replay(path, rows.extend, batch_rows=2, batch_bytes=1 << 20)
    return rows


def test_rows_come_back_exactly_and_the_files_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "var" / "spool")
    assert spool.size() == 0 and not (tmp_path / "var").exists()  # nothing on disk before use
    odd = [record(1, "NUL \x00 and a lone \ud800 surrogate"), record(2, "😀 « guillemets »")]
    spool.append(odd)
    spool.append([record(3)])
    directory = tmp_path / "var" / "spool"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in directory.iterdir())
    assert spool.size() > 0
    assert replay_all(spool) == [*odd, record(3)]
    assert spool.size() == 0 and not list(directory.iterdir())


def test_the_size_cap_refuses_what_does_not_fit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=600)
    spool.append([record(1)])
    with pytest.raises(SpoolFull, match="is full"):
        spool.append([record(n) for n in range(2, 5)])
    assert [r.request_id for r in replay_all(spool)] == ["req-1"]


def test_a_file_being_written_is_not_replayed_and_a_failed_replay_keeps_the_file(
    tmp_path: Path,
) -> None:
    writing = Spool(tmp_path)
    writing.append([record(1)])
    reader = Spool(tmp_path)
    (path,) = reader.files()
    assert reader.replay(path, list, batch_rows=10, batch_bytes=1 << 20) is None  # locked
    writing.close()

    def fail(_rows: list[InferenceRecord]) -> None:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        reader.replay(path, fail, batch_rows=10, batch_bytes=1 << 20)
    assert path.exists()
    assert [r.request_id for r in replay_all(reader)] == ["req-1"]


def test_a_line_cut_short_by_a_crash_is_counted_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(1), record(2)])
    spool.close()
    (path,) = spool.files()
    path.write_bytes(path.read_bytes() + b'{"request_id": "req-3", "at": "2026-')
    rows: list[InferenceRecord] = []
    replayed = spool.replay(path, rows.extend, batch_rows=10, batch_bytes=1 << 20)
    assert replayed is not None and (replayed.rows, replayed.unreadable) == (2, 1)
    assert [r.request_id for r in rows] == ["req-1", "req-2"] and not path.exists()
