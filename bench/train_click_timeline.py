"""Train: from the click to "Completed" — where the seconds of one train run go in local mode.

    .venv/bin/python bench/train_click_timeline.py [--rows N] [--runs N] [--write FILE.md]

A real local stack in a temporary var/ folder on free loopback ports, started as `make run` starts
it (``core.cli data import --if-empty``, then ``core.local_stack up`` of the MLflow server, the
Prefect server, the flows worker, the predictor API and the Streamlit app). The built-in
catalogue of ``--rows`` products is loaded to 43 % (Initialize + one batch). Then, ``--runs``
times: the click (the Default preset, "promote if the gate passes" on, as the form comes) is
``PrefectManager.trigger`` over ``PrefectRest``, exactly the page's call, and the run is followed
as the page's fragment follows it (``progress()`` every ``LIVE_POLL_S`` from the trigger's return,
with the logs every ``LOGS_EVERY`` polls), until it is seen finished. Last, once more through the
app itself: headless Chromium clicks Train on the Training page and waits for its panel to show
"Completed" (``bench/train_click_browser.py``; skipped, and said so, without Chromium).

The timeline comes from Prefect's own records of the run (its state history, its task runs, its
logs), the MLflow run's ``fit_seconds``, and a probe (``bench/click_probe/sitecustomize.py``,
put on the stack's ``PYTHONPATH``) that notes, in the worker and the flow-run process only, when
that process started, when its heavy imports finished and how long the library calls of the run
took (Streamlit's re-rendering is in the browser's number only).
Also measured: the worker's fork server's imports (once per worker), and a plain
``python -X importtime -c "import core.flows.train"`` (what a new flow-run process would pay
without it), ranked by top-level package.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.components.flow_runs import LIVE_POLL_S, LOGS_EVERY  # noqa: E402
from app.managers.flows import PrefectManager  # noqa: E402
from bench.harness import BENCH_ACTOR, isolated_env, say  # noqa: E402
from bench.markdown import publish  # noqa: E402
from bench.train_click_browser import browser_available, click_train  # noqa: E402
from bench.train_click_imports import fork_server_seconds, import_profile  # noqa: E402
from bench.train_click_report import report, timeline  # noqa: E402
from core.access.audit_store import SqlAuditLog  # noqa: E402
from core.adapters.flows import PrefectRest  # noqa: E402
from core.db.engine import make_engine  # noqa: E402
from core.flows.names import TRAIN_DEPLOYMENT  # noqa: E402
from core.train import PRESETS  # noqa: E402
from tests.ports import free_port  # noqa: E402

SECTION = "## Train: from the click to Completed"
PROBE_DIR = Path(__file__).resolve().parent / "click_probe"
SERVICES = ("mlflow", "prefect", "worker", "api", "app")
RUN_TIMEOUT_S = 600
DEFAULT_PRESET = next(iter(PRESETS))  # the form's first choice: "Default (…)"


def stack_env(tmp: Path, rows: int) -> dict[str, str]:
    """`make run`'s settings for a fresh var/ folder on free ports, plus the probe."""
    python_path = os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")]))
    return isolated_env(
        "RAKUTEN_",
        "PREFECT_",
        "MLFLOW_",
        RAKUTEN_VAR_DIR=str(tmp / "var"),
        RAKUTEN_SYNTHETIC_ROWS=str(rows),
        RAKUTEN_MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
        RAKUTEN_PREFECT_API_URL=f"http://127.0.0.1:{free_port()}/api",
        RAKUTEN_API_URL=f"http://127.0.0.1:{free_port()}",
        RAKUTEN_APP_PORT=str(free_port()),
        RAKUTEN_DATABASE_URL="",  # SQLite in the var/ folder (a .env must not pick another)
        RAKUTEN_API_TOKEN="",  # local mode makes one and hands it to the API
        PYTHONPATH=python_path,
        RAKUTEN_BENCH_PROBE=str(tmp / "probe.jsonl"),
    )


def python_module(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    """``python -m …`` from the repository, as make runs it; its output shown on failure."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"python -m {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def local_stack(env: dict[str, str]) -> Iterator[None]:
    """The stack's services up (healthy) for the block; all stopped on the way out."""
    say(f"local stack up: {', '.join(SERVICES)} …")
    try:
        python_module(env, "core.local_stack", "up", *SERVICES, timeout=400)
        yield
    finally:
        say("local stack down …")
        python_module(env, "core.local_stack", "down", *SERVICES, timeout=120)


def wait_worker(api_url: str, worker_log: Path, timeout: float = 180) -> None:
    """Until the worker serves the train deployment and polls for runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        served = worker_log.exists() and "being served" in worker_log.read_text(errors="replace")
        with contextlib.suppress(requests.RequestException):
            found = requests.get(f"{api_url}/deployments/name/{TRAIN_DEPLOYMENT}", timeout=5)
            if served and found.ok:
                time.sleep(3)  # its first poll, as a person clicks well after `make run`
                return
        time.sleep(0.5)
    raise SystemExit(f"the worker did not serve {TRAIN_DEPLOYMENT} in {timeout:.0f} s")


def click_and_follow(manager: PrefectManager, poll_s: float) -> dict[str, Any]:
    """The page's click (trigger), then its fragment's polling until the run is seen finished."""
    parameters = {"config": PRESETS[DEFAULT_PRESET].model_dump(), "auto_promote": True}
    clicked = time.time()
    run = manager.trigger(TRAIN_DEPLOYMENT, parameters, BENCH_ACTOR)
    created = time.time()
    polls = 0
    while time.time() - created < RUN_TIMEOUT_S:
        polls += 1
        asked = time.time()
        now = manager.progress(run.id, polls % LOGS_EVERY == 0)
        if now.run is not None and now.run.finished:
            return {
                "id": run.id,
                "state": now.run.state_name,
                "click": clicked,
                "created": created,
                "seen": time.time(),
                "last_poll_s": time.time() - asked,
                "polls": polls,
            }
        time.sleep(max(0.0, created + polls * poll_s - time.time()))
    raise SystemExit(f"flow run {run.id} did not finish in {RUN_TIMEOUT_S} s")


def prefect_records(api_url: str, run_id: str, tasks: int = 5) -> dict[str, Any]:
    """The run's state history, task runs (waited for: they arrive as events) and logs."""
    states = requests.get(f"{api_url}/flow_run_states/", {"flow_run_id": run_id}, timeout=10)
    states.raise_for_status()
    body = {"flow_runs": {"id": {"any_": [run_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    for _ in range(60):
        task_runs = requests.post(f"{api_url}/task_runs/filter", json=body, timeout=10).json()
        if len(task_runs) >= tasks and all(t.get("end_time") for t in task_runs):
            break
        time.sleep(0.5)
    logs = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200}
    return {
        "states": states.json(),
        "task_runs": task_runs,
        "logs": requests.post(f"{api_url}/logs/filter", json=logs, timeout=10).json(),
    }


def mlflow_fit_seconds(tracking_uri: str, logs: list[dict[str, Any]]) -> float | None:
    """The MLflow run's ``fit_seconds`` (the run id from the flow's "Logged MLflow run" line)."""
    marker = "Logged MLflow run "
    found = [r["message"].split(marker)[1].split()[0] for r in logs if marker in r["message"]]
    if not found:
        return None
    answer = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/runs/get", {"run_id": found[0]}, timeout=10
    )
    metrics = answer.json()["run"]["data"]["metrics"]
    return next((m["value"] for m in metrics if m["key"] == "fit_seconds"), None)


def wait_process_exit(probe: Path, clicked: float, timeout: float = 120) -> float | None:
    """When the run's own process (the one that fitted) is gone; None if never seen."""
    deadline = time.monotonic() + timeout
    pids = {e["pid"] for e in read_probe(probe) if e["event"] == "core.train.fit"}
    pids &= {e["pid"] for e in read_probe(probe) if e["start"] >= clicked - 1}
    while pids and time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return time.time()
        time.sleep(0.1)
    return None


def in_browser(manager: PrefectManager, env: dict[str, str]) -> dict[str, Any]:
    """The click on the Training page in Chromium: seconds until it shows the run finished, and
    the run's fit (from its MLflow run)."""
    say("in the browser: click on Train …")
    clicked = click_train(f"http://127.0.0.1:{env['RAKUTEN_APP_PORT']}")
    run = manager.recent_runs(1)[0]
    records = prefect_records(env["RAKUTEN_PREFECT_API_URL"], run.id)
    fit_s = mlflow_fit_seconds(env["RAKUTEN_MLFLOW_TRACKING_URI"], records["logs"])
    say(f"in the browser: {run.state_name}")
    times = sorted(datetime.fromisoformat(s["timestamp"]).timestamp() for s in records["states"])
    register = [t for t in records["task_runs"] if t["name"].startswith("register")]
    return {
        "seen_s": clicked["seen"] - clicked["click"],
        "created_s": times[0] - clicked["click"],  # the run's first state: Scheduled
        "final_s": times[-1] - clicked["click"],
        "register_s": sum(
            datetime.fromisoformat(t["end_time"]).timestamp()
            - datetime.fromisoformat(t["start_time"]).timestamp()
            for t in register
        ),
        "fit_s": fit_s,
        "state": run.state_name,
    }


def read_probe(probe: Path) -> list[dict[str, Any]]:
    """The probe's events so far."""
    if not probe.exists():
        return []
    return [json.loads(line) for line in probe.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="catalogue size")
    parser.add_argument("--runs", type=int, default=2, help="train runs, one after the other")
    parser.add_argument("--poll", type=float, default=LIVE_POLL_S, help="the page's period (s)")
    parser.add_argument("--write", type=Path, help="replace this section of a Markdown file")
    parser.add_argument("--raw", type=Path, help="also save each run's raw records (JSON) here")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_train_click_") as name:
        tmp = Path(name)
        env = stack_env(tmp, args.rows)
        say(f"importing the {args.rows:,}-row catalogue and loading 43 % …")
        python_module(env, "core.cli", "data", "import", "--if-empty")
        python_module(env, "core.cli", "data", "init")
        python_module(env, "core.cli", "data", "next")
        imports = import_profile(ROOT, isolated_env("RAKUTEN_", "PREFECT_", "MLFLOW_"))
        api_url, tracking_uri = env["RAKUTEN_PREFECT_API_URL"], env["RAKUTEN_MLFLOW_TRACKING_URI"]
        probe = Path(env["RAKUTEN_BENCH_PROBE"])
        engine = make_engine(f"sqlite:///{tmp / 'var' / 'control_room.db'}")
        manager = PrefectManager(PrefectRest(api_url), SqlAuditLog(engine))
        raw: list[list[Any]] = []
        with local_stack(env):
            wait_worker(api_url, tmp / "var" / "logs" / "worker.log")
            for number in range(1, args.runs + 1):
                say(f"run {number}: click on Train ({DEFAULT_PRESET}) …")
                followed = click_and_follow(manager, args.poll)
                records = prefect_records(api_url, followed["id"])
                fit_s = mlflow_fit_seconds(tracking_uri, records["logs"])
                exited = wait_process_exit(probe, followed["click"])
                raw.append([followed, records, read_probe(probe), fit_s, exited])
                say(f"run {number}: {followed['state']}")
            imports["fork_server_s"] = fork_server_seconds(read_probe(probe))
            browser = in_browser(manager, env) if browser_available() else None
        engine.dispose()
    if args.raw:
        args.raw.write_text(json.dumps({"runs": raw, "imports": imports, "browser": browser}))
    runs = [timeline(*one) for one in raw]
    publish(report(runs, imports, args, load, browser), SECTION, args.write)


if __name__ == "__main__":
    main()
