"""Serving from several uvicorn worker processes (``RAKUTEN_API_WORKERS`` > 1).

Each worker is a whole API: its own model, micro-batcher and inference-log writer (spool files are
named by process id, so they never collide). What the workers share lives under
``<var_dir>/run/api``, prepared by ``python -m api`` before uvicorn starts them:

- ``metrics/``: prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``), emptied at
  each start, so that ``/metrics`` on any worker adds up every worker's counters (``api.metrics``);
- ``models/``: each champion version compiled once for all workers (:class:`SharedModels`):
  the first worker to need it compiles it, the others read the file it left;
- ``reload``: the reload signal. ``POST /model/reload`` reaches one worker; once it answers 200,
  that worker rewrites this file, and every worker checks the file every
  :data:`WATCH_SECONDS` and re-resolves the champion when it changed. So all of them follow a
  promotion within a fraction of a second plus a model load, not at their next poll.

``/health``, ``/ready`` and ``/model`` describe the worker that answers (its model, its writer);
the ``X-API-Worker`` header names it (process id).

With one worker nothing of this is set up, and the API runs exactly as a single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.adapters.model_refs import ServingSource, VersionRef
from core.runtime_files import replace_private
from core.serving.compiled import CompiledModel, ProductScorer

log = logging.getLogger("api.workers")

RELOAD_SIGNAL_ENV = "API_RELOAD_SIGNAL"  # set by `python -m api` for its workers only
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
WATCH_SECONDS = 0.2
RELOAD_PATH = "/model/reload"
SELF_REPORTS = frozenset({"/health", "/ready", "/model"})
WORKER_HEADER = b"x-api-worker"


def prepare_shared(var_dir: Path) -> dict[str, str]:
    """Make a fresh ``<var_dir>/run/api`` for a start with several workers.

    Args:
        var_dir: The runtime folder (``RAKUTEN_VAR_DIR``).

    Returns:
        The environment variables the workers need (set them before uvicorn starts them).
    """
    shared = var_dir / "run" / "api"
    metrics = shared / "metrics"
    # Counters of an earlier start would be added to this one's: the folder starts empty.
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(mode=0o700, parents=True)
    os.chmod(shared, 0o700)
    shutil.rmtree(shared / "models", ignore_errors=True)  # a store may be rebuilt between starts
    signal = shared / "reload"
    signal.unlink(missing_ok=True)
    return {MULTIPROC_ENV: str(metrics), RELOAD_SIGNAL_ENV: str(signal)}


def reload_signal_path() -> Path | None:
    """The reload signal file of this worker's start, or ``None`` when serving alone."""
    value = os.environ.get(RELOAD_SIGNAL_ENV)
    return Path(value) if value else None


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


class SharedModels:
    """A model loader whose compiled models the workers of one start share.

    A version is loaded (compiled, in a child process: seconds) by the first worker that needs
    it, under a lock, and left in ``models/`` as a pickle; a worker that needs it next reads that
    file in milliseconds. So after a reload, the other workers switch as soon as they are told.
    """

    def __init__(
        self,
        directory: Path,
        load: Callable[[ServingSource, VersionRef], ProductScorer],
    ) -> None:
        self.directory = directory
        self._load = load

    def __call__(self, store: ServingSource, ref: VersionRef) -> ProductScorer:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        path = self.directory / f"{ref.version}-{ref.run_id}.pickle"
        with _exclusive(path.with_suffix(".lock")):
            if path.exists():
                try:
                    # Written by a worker of this start, in this 0700 folder.
                    return pickle.loads(path.read_bytes())  # noqa: S301
                except Exception as exc:  # noqa: BLE001 - load it afresh instead
                    log.warning("cannot read the shared model %s: %s", path.name, exc)
            scorer = self._load(store, ref)
            if isinstance(scorer, CompiledModel):  # a pipeline served as it is stays private
                replace_private(path, pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL))
            return scorer


def shared_models(
    load: Callable[[ServingSource, VersionRef], ProductScorer],
) -> SharedModels | None:
    """The shared loader of this worker's start around ``load``, or ``None`` serving alone."""
    signal = reload_signal_path()
    return SharedModels(signal.parent / "models", load) if signal else None


@contextlib.contextmanager
def one_worker_at_a_time() -> Iterator[None]:
    """Hold the start's lock inside the block, so that the workers go through it in turn.

    Opening the registry creates a fresh SQLite MLflow store's tables (an Alembic migration):
    two workers doing it at once on a new store make one of them fail to start.
    """
    signal = reload_signal_path()
    if signal is None:
        yield
        return
    with _exclusive(signal.parent / "start.lock"):
        yield


class ReloadSignal:
    """A file whose every rewrite tells the other workers to check the champion now."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()

    def announce(self) -> None:
        """Rewrite the file (atomically: a reader never sees it half-written)."""
        # A new inode: watchers see a change even within one tick.
        replace_private(self.path, f"{time.time_ns()} {os.getpid()}\n".encode())
        self._seen = self._stamp()  # this worker has checked already

    def changed(self) -> bool:
        """Whether the file was rewritten since this worker last looked (or announced)."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns


async def watch(signal: ReloadSignal, check: Callable[[], object]) -> None:
    """Run ``check`` (in a thread) whenever ``signal`` changes; until cancelled."""
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        try:
            changed = signal.changed()
        except OSError as exc:  # the run folder vanished: the 10 s poll still follows
            log.warning("cannot read the reload signal %s: %s", signal.path, exc)
            continue
        if changed:
            await asyncio.to_thread(check)


class WorkerMiddleware:
    """Announces every accepted ``POST /model/reload`` (200, or 202 without waiting) to the other
    workers, and names the worker that answered ``/health``, ``/ready`` and ``/model`` (header
    ``X-API-Worker``: its process id), since what each says about its own writer or model is that
    worker's."""

    def __init__(self, app: ASGIApp, signal: ReloadSignal) -> None:
        self.app = app
        self.signal = signal
        self._worker = (WORKER_HEADER, str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == RELOAD_PATH:
            await self.app(scope, receive, self._announcing(send))
        elif path in SELF_REPORTS:
            await self.app(scope, receive, self._naming(send))
        else:
            await self.app(scope, receive, send)

    def _announcing(self, send: Send) -> Send:
        async def send_announcing(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 202):
                # Before the answer leaves: the caller may ask another worker at once.
                await asyncio.to_thread(self.signal.announce)
            await send(message)

        return send_announcing

    def _naming(self, send: Send) -> Send:
        async def send_naming(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self._worker]}
            await send(message)

        return send_naming
