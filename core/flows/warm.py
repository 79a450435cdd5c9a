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

The seam is private to Prefect (how ``run_flow_in_subprocess`` finds its context); prefect is
pinned exactly in requirements.txt and ``tests/integration/test_flows.py`` fails if it moves.
"""

from __future__ import annotations

import copyreg
import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext
from typing import Any

from prefect import Flow, flow_engine

PRELOAD = "core.flows.preload"  # imports what a run needs; see that module
WARM_UP_TIMEOUT_S = 300.0  # the fork server's imports, on a busy machine


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

    Yields:
        The fork-server context (see :func:`warm_up`).
    """
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
