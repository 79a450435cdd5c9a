"""What the flow's imports cost, for ``bench/train_click_timeline.py``: once per worker in its fork
server (from the probe's events), and in a new process (``python -X importtime``)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def import_profile(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """What a new process pays to import the flow: wall time, and ``-X importtime``'s self times
    summed by top-level package (each module counted once, whoever imported it)."""

    def wall(*code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *code], cwd=root, env=env, check=True)
        return time.perf_counter() - start

    bare_s = wall("-c", "pass")
    wall_s = wall("-c", "import core.flows.train")
    profiled = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import core.flows.train"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, float] = defaultdict(float)
    for line in profiled.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \| +(\S+)$", line)
        if found:
            packages[found.group(2).split(".")[0]] += int(found.group(1)) / 1e6
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])
    return {
        "bare_s": bare_s,
        "wall_s": wall_s,
        "profiled_s": sum(packages.values()),
        "packages": ranked,
    }


def fork_server_seconds(events: list[dict[str, Any]]) -> float | None:
    """From the fork server's start to the end of its last import (its preload)."""
    servers = {e["pid"] for e in events if e["event"] == "forkserver"}
    if not servers:
        return None
    pid = min(servers)  # one per worker: the stack's
    mine = [e for e in events if e["pid"] == pid]
    start = next(e["start"] for e in mine if e["event"] == "process")
    return max(e["end"] for e in mine if e["event"].startswith("import ")) - start
