"""Flow runs that start warm: each one a fork of a process that has already imported everything.

Prefect's Runner starts a flow it holds in memory (``Runner.add_flow``) with
``prefect.flow_engine.run_flow_in_subprocess``, which asks ``multiprocessing`` for a "spawn"
context: a new interpreter that imports Prefect, MLflow, scikit-learn, pandas and the project
again, ~15 s per run on a 2-core machine. In the worker, :func:`warm_processes` hands it a
"forkserver" context instead: one fork server, started once with the worker, imports
:data:`PRELOAD`, and each run is a fork of it. A run is still a process of its own: if it dies
the Runner sees its exit code and marks it Crashed, the worker lives on, and cancelling kills
that process only. The fork server is a fresh interpreter (no threads, no event loop, no open
clients), so forking it is safe where forking the worker itself would not be.

The flow itself goes to the fork by name (:func:`_reduce_flow`): cloudpickle would otherwise copy
the flow's function by value, without the module globals its string annotations name (a flow in a
module with ``from __future__ import annotations`` then fails to validate its parameters), when
the fork has the real one already imported.

A killed worker takes its runs with it (:func:`bind_to_worker`): otherwise ``kill -9`` of the
worker, or the kernel's OOM killer, leaves the fork server and every run it forked running on as
orphans, and Prefect shows those runs as Running for good (:mod:`core.flows.orphans` marks them
Crashed when the worker starts again).

The seam is private to Prefect (how ``run_flow_in_subprocess`` finds its context); prefect is
pinned exactly in requirements.txt and ``tests/integration/test_flows.py`` fails if it moves.
"""

from __future__ import annotations

import copyreg
import ctypes
import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext
from typing import Any

from prefect import Flow, flow_engine

PRELOAD = "core.flows.preload"  # imports what a run needs; see that module
WARM_UP_TIMEOUT_S = 300.0  # the fork server's imports, on a busy machine
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class _Multiprocessing:
    """Stands in for the ``multiprocessing`` module inside ``prefect.flow_engine``: the same
    module, except that the "spawn" context it asks for is the warm fork server's."""

    def __init__(self, context: ForkServerContext) -> None:
        self._context = context

    def get_context(self, method: str | None = None) -> Any:
        return self._context if method == "spawn" else multiprocessing.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


@contextmanager
def warm_processes() -> Iterator[ForkServerContext]:
    """Within the block, flow runs started by this process's Runner fork from a warm process.

    The fork server starts at once and imports :data:`PRELOAD` in the background; a run started
    before it is ready waits for it (no run is lost or started cold).

    Enter it in the worker's main thread, and start runs from there (the Runner's event loop runs
    there): the fork server dies with the thread that started it (:func:`bind_to_worker`).

    Yields:
        The fork-server context (see :func:`warm_up`).

    Raises:
        RuntimeError: Entered outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "warm_processes() must run in the main thread: the fork server it starts is killed "
            "when the thread that started it ends."
        )
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    previous = flow_engine.multiprocessing, copyreg.dispatch_table.get(Flow)
    flow_engine.multiprocessing = _Multiprocessing(context)  # type: ignore[assignment]
    copyreg.pickle(Flow, _reduce_flow)
    try:
        multiprocessing.forkserver.ensure_running()
        yield context
    finally:
        flow_engine.multiprocessing = previous[0]
        if previous[1] is None:
            copyreg.dispatch_table.pop(Flow, None)
        else:
            copyreg.pickle(Flow, previous[1])


def warm_up(context: ForkServerContext) -> float:
    """Wait until the fork server has imported :data:`PRELOAD`: it forks only once it has.

    Returns:
        Seconds waited.

    Raises:
        RuntimeError: The fork server did not answer, or did not import :data:`PRELOAD` itself
            (runs would then import everything again: correct, but slow).
    """
    start = time.perf_counter()
    probe = context.Process(target=_exit_preloaded, name="warm-up")
    probe.start()
    probe.join(WARM_UP_TIMEOUT_S)
    if probe.exitcode != 0:
        probe.kill()
        raise RuntimeError(
            f"The flow runs' fork server did not import {PRELOAD} (exit code {probe.exitcode}): "
            "see the worker's log."
        )
    return time.perf_counter() - start


def bind_to_worker() -> None:
    """In the fork server (its preload calls this): die with the worker, and make each run it
    forks die with the fork server; so a worker killed with SIGKILL leaves no run behind.

    Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``): the kernel itself kills
    the process when the *thread* that forked it ends, however it ends; a watcher thread in the
    run (reading a pipe) would act only when it gets the GIL, late in a long fit. The worker
    starts the fork server from its main thread (:func:`warm_processes`), which lives as long as
    the worker; the fork server forks runs from its only loop, in its main thread. A run's own
    children are left alone. The signal is SIGKILL: a run can neither catch nor delay it, and
    the worker that would record the run's end is gone anyway. Elsewhere than on Linux this does
    nothing (runs outlive a killed worker, as before).

    Raises:
        OSError: The kernel refused the setting.
    """
    if not sys.platform.startswith("linux"):
        return
    # A worker gone before this line cannot be watched any more, but then no run was forked yet
    # and the fork server ends by itself on reading its "alive" pipe closed (multiprocessing's).
    _die_with_parent(os.getppid())
    server = os.getpid()
    forker = [server]

    def before() -> None:
        forker[0] = os.getpid()

    def after_in_child() -> None:
        if forker[0] == server:  # forked by the fork server: a run, not a run's own child
            _die_with_parent(server)

    os.register_at_fork(before=before, after_in_child=after_in_child)


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) refused: {os.strerror(errno)}")
    if os.getppid() != parent:  # the parent died before the setting took: nothing would fire
        os.kill(os.getpid(), signal.SIGKILL)


def _reduce_flow(flow: Flow[..., Any]) -> Any:
    """A flow defined at a module's top level pickles as that module's attribute; any other as
    pickle would anyway."""
    module, name = flow.fn.__module__, flow.fn.__name__
    if getattr(sys.modules.get(module), name, None) is flow:
        return _module_flow, (module, name)
    return flow.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


def _module_flow(module: str, name: str) -> Flow[..., Any]:
    return getattr(importlib.import_module(module), name)


def _exit_preloaded() -> None:
    # Runs in a fork: the preload module must be there, imported by its parent, the fork server
    # (a fork may also import things itself while it starts: that would not be warm).
    preloaded = sys.modules.get(PRELOAD)
    sys.exit(0 if getattr(preloaded, "IMPORTED_BY", None) == os.getppid() else 3)
