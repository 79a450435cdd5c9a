"""A real ``mlflow server`` for tests, on a port and a backend store the test chooses.

Artifacts are served by the server itself (``mlflow-artifacts:/``), under ``folder``: a client that
reaches the server through a :class:`tests.tcp_proxy.TcpProxy` uploads and downloads them through
the proxy too.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import isolated_env, process_group, wait_http


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str, port: int, folder: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """An ``mlflow server`` on 127.0.0.1:``port`` over ``backend_store_uri``, ready (``/health``
    answers) on entry and stopped (its process group) on the way out; its log is in ``folder``."""
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", backend_store_uri]
    env = isolated_env("MLFLOW_", "RAKUTEN_", MLFLOW_DISABLE_TELEMETRY="true")
    folder.mkdir(exist_ok=True)
    log = folder / f"mlflow-{time.monotonic_ns()}.log"
    with process_group(command, cwd=folder, env=env, log=log) as process:
        wait_http("mlflow server", f"http://127.0.0.1:{port}/health", process, log, 120)
        yield process
