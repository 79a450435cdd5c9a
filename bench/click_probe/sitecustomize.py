"""Timing probe of ``bench/train_click_timeline.py``, loaded by Python itself as ``sitecustomize``.

The benchmark puts this folder on ``PYTHONPATH`` and names a file in ``RAKUTEN_BENCH_PROBE`` for the
local stack it starts. In the flows worker (``core.flows.serve``) and in the processes it starts
for flow runs (its multiprocessing fork server and each run forked from it; or, with Prefect's
own ``serve``, ``python -m prefect.engine``), and only there, it appends one JSON line per event
to that file: when the process started (for a fork: when it was forked), when the heavy packages
finished importing, and the seconds of the library calls a train run makes (wrapped where the
code looks them up, once their module has been imported; nothing else changes). Every other
process, and any process without the variable, is left untouched. Times are ``time.time()``
seconds, comparable with Prefect's timestamps.
"""

from __future__ import annotations

import functools
import importlib.abc
import inspect
import json
import os
import sys
import time
from typing import Any

# Module → attributes (``Class.method`` for a method) to time once that module has been executed.
PATCHES: dict[str, tuple[str, ...]] = {
    # The worker: how it starts a flow run's process (a deployment served by ``serve``: the
    # ``python -m prefect.engine`` command; a flow served in memory: a multiprocessing child).
    "prefect.runner._starter_engine": ("run_process",),
    "prefect.runner._starter_direct": ("run_flow_in_subprocess",),
    # The flow run's process: reading the run from the API, loading the flow (its imports) — a
    # new interpreter's steps —, then the engine (``run_flow``: where a fork starts).
    "prefect.flow_engine": ("load_flow_run", "load_flow", "run_flow"),
    "mlflow": (
        "set_experiment",
        "start_run",
        "set_tags",
        "log_params",
        "log_metrics",
        "log_text",
        "log_dict",
        "log_artifacts",
    ),
    "mlflow.sklearn": ("log_model", "save_model"),
    # Defined here, imported by name where the model is saved and where it is loaded back.
    "mlflow.utils.requirements_utils": ("warn_dependency_requirement_mismatches",),
    "mlflow.models.utils": ("_validate_serving_input",),
    "mlflow.tracking.client": ("MlflowClient.log_model_artifacts",),
    "core.train": ("fit",),
    "core.tracking": ("infer_signature",),
    "core.adapters.model_store": ("MlflowModelStore.register",),
    "core.usecases.promotion": ("promote_and_serve",),
    "core.promotion": ("promote",),
    "core.adapters.predictor": ("HttpPredictor.reload",),
    "core.db.engine": ("ensure_schema",),
}
# Packages whose import (start → end, everything they import included) is recorded.
IMPORTS = ("prefect", "mlflow", "sklearn", "pandas", "core.flows.train")

_OUT = os.environ.get("RAKUTEN_BENCH_PROBE", "")


def _cmdline() -> str:
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _process_start() -> float:
    """When the kernel started this process (``/proc``: 1/CLK_TCK precision; the boot time from
    the uptime, as ``/proc/stat``'s ``btime`` is whole seconds)."""
    with open("/proc/self/stat") as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as handle:
        boot = time.time() - float(handle.read().split()[0])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def record(event: str, start: float, end: float | None = None, cpu0: float | None = None) -> None:
    """Append one event (``end`` None: an instant) with this process's CPU seconds so far
    (``cpu1``, all threads) and, given, at its start (``cpu0``)."""
    cpu1 = time.process_time()
    line = json.dumps(
        {"pid": os.getpid(), "event": event, "start": start, "end": end, "cpu0": cpu0, "cpu1": cpu1}
    )
    fd = os.open(_OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _timed(fn: Any, name: str) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            start, cpu0 = time.time(), time.process_time()
            try:
                return await fn(*args, **kwargs)
            finally:
                record(name, start, time.time(), cpu0)

        return awaited

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, cpu0 = time.time(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            record(name, start, time.time(), cpu0)

    return wrapper


def _patch(module: Any) -> None:
    for path in PATCHES.get(module.__name__, ()):
        owner_name, _, attr = path.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        setattr(owner, attr, _timed(getattr(owner, attr), f"{module.__name__}.{path}"))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for the modules above, wraps the real loader to act after it ran."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in PATCHES and fullname not in IMPORTS:
            return None
        start, cpu0 = time.time(), time.process_time()
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            if fullname in IMPORTS:
                record(f"import {fullname}", start, time.time(), cpu0)
            _patch(module)

        loader.exec_module = exec_module
        return spec


def _install() -> None:
    command = _cmdline()
    if not any(m in command for m in ("core.flows.serve", "prefect.engine", "multiprocessing")):
        return
    record("process", _process_start())
    record("sitecustomize", time.time())
    sys.meta_path.insert(0, _AfterImport())
    if "forkserver" in command:  # each run is a fork of it: note when (the patches carry over)
        record("forkserver", time.time())
        os.register_at_fork(after_in_child=lambda: record("process", time.time()))


if _OUT:
    _install()
