"""What the supervisor asks the operating system: is a process alive, who is in its group, when it
started, and does a service answer its health check. Linux (``/proc``) only, like local mode."""

from __future__ import annotations

import fcntl
import http.client
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a process group; one that is gone already is fine."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def probe_health(url: str) -> tuple[str, float]:
    """GET the health URL: why it is not healthy ("" when it answered 200), and how long it took."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            reason = "" if response.status == 200 else f"health check answered {response.status}"
    except urllib.error.HTTPError as exc:
        reason = f"health check answered {exc.code}"
    except (OSError, http.client.HTTPException) as exc:
        reason = f"health check failed ({type(exc).__name__})"
    return reason, (time.perf_counter() - start) * 1000


@contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created 0600) for the block; yields whether it is held.

    With ``wait=False`` the block runs at once, told False, when another holder has it. The lock
    is the kernel's (``flock``): it is released when its holder exits, even killed.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock
