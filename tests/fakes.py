"""In-memory fakes of Prefect, the containers and Prometheus, recording what pages asked.

The model store (MLflow) and predictor API fakes are in tests/fakes_serving.py.

The orchestrator, container engine and Prometheus fakes inherit their ports (``FlowRunner``,
``ContainerEngine``, ``MetricsHistory``), so the type checker proves they match, and page tests run
the real managers over them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from app.records import DeploymentInfo, FlowRunInfo, LogLine
from core.adapters.containers import ContainerEngine, ContainerInfo, HealthCheck
from core.adapters.errors import Missing, Unreachable
from core.adapters.flows import FlowRunner
from core.adapters.prometheus import MetricsHistory
from core.service_metrics import HealthPoint

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FakeFlowRunner(FlowRunner):
    """Flow runs created on trigger; their final state is whatever the test sets."""

    def __init__(self) -> None:
        self.down = False
        self.triggered: list[tuple[str, dict[str, Any]]] = []
        self.runs: dict[str, FlowRunInfo] = {}
        self.outcome = ("COMPLETED", "Completed", "")
        self.paused: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def ui_url(self) -> str:
        return "http://prefect.test"

    def ping(self) -> None:
        self._check()

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> FlowRunInfo:
        self._check()
        self.triggered.append((deployment, parameters))
        state_type, state_name, message = self.outcome
        run = FlowRunInfo(
            f"fr-{next(self._ids)}",
            "brave-otter",
            deployment.split("/")[0],
            state_type,
            state_name,
            message,
            NOW,
            NOW,
            NOW,
        )
        self.runs[run.id] = run
        return run

    def flow_run(self, run_id: str) -> FlowRunInfo:
        self._check()
        if run_id not in self.runs:
            raise Missing(f"Prefect at http://prefect.test/api has no flow run {run_id}.")
        return self.runs[run_id]

    def logs(self, run_id: str, limit: int = 200) -> list[LogLine]:
        self._check()
        return [LogLine(NOW, 20, "Beginning flow run"), LogLine(NOW, 20, "Fitted logreg")]

    def recent_runs(self, limit: int = 10) -> list[FlowRunInfo]:
        self._check()
        return list(self.runs.values())[::-1][:limit]

    def deployments(self, recent: int = 5) -> list[DeploymentInfo]:
        self._check()
        crons = {
            "train/train": (),
            "load-data/load-data": ("0 6 * * 1",),
            "monitor/monitor": ("0 9 * * *",),
        }
        return [
            DeploymentInfo(
                name,
                f"dep-{name}",
                crons[name],
                name in self.paused,
                NOW if crons[name] else None,
                tuple(r for r in self.runs.values() if name.startswith(r.flow)),
            )
            for name in crons
        ]

    def set_paused(self, deployment: str, paused: bool) -> None:
        self._check()
        (self.paused.add if paused else self.paused.discard)(deployment)

    def _check(self) -> None:
        if self.down:
            raise Unreachable("Prefect not reachable at http://prefect.test/api (ConnectionError).")


class FakePrometheus(MetricsHistory):
    """Two points of each series, as Prometheus would answer; ``empty`` before any scrape of the
    API, unreachable while ``down``."""

    def __init__(self) -> None:
        self.url = "http://prometheus.test"
        self.down = False
        self.empty = False

    def health_history(self, minutes: int = 15, step_seconds: int = 15) -> list[HealthPoint]:
        self._check()
        if self.empty:
            return []
        later = NOW + timedelta(seconds=step_seconds)
        return [HealthPoint(NOW, 3.0, 4.2, 0.0), HealthPoint(later, 4.0, 4.8, 0.25)]

    def predictions_by_class(self, minutes: int = 15) -> dict[str, float]:
        self._check()
        return {} if self.empty else {"Pools & accessories": 40.0}

    def _check(self) -> None:
        if self.down:
            raise Unreachable(f"Prometheus not reachable at {self.url} (ConnectionError)")


class FakeContainer:
    """One compose service's container as the engine keeps it: its state changes with start and
    stop; a look at it (``info()``) is a snapshot. After a start, the healthcheck says "starting"
    until the next look."""

    def __init__(self, service: str, ports: tuple[int, ...] = ()) -> None:
        self.service = service
        self.ports = ports
        self.log_lines = [f"{service} line {i}" for i in range(1, 301)]
        self.calls: list[str] = []
        self.status, self.exit_code, self.health, self.output = "running", 0, "healthy", ""

    def set_running(self, *, healthy: bool = True, output: str = "", health: str = "") -> None:
        self.status, self.exit_code, self.output = "running", 0, output
        self.health = health or ("healthy" if healthy else "unhealthy")

    def set_exited(self, code: int = 137) -> None:
        self.status, self.exit_code, self.health, self.output = "exited", code, "", ""

    def info(self, project: str) -> ContainerInfo:
        running = self.status == "running"
        check = HealthCheck(
            datetime(2026, 11, 27, 8, 59, 0, 100000, tzinfo=UTC),
            datetime(2026, 11, 27, 8, 59, 0, 112500, tzinfo=UTC),
            0 if self.health == "healthy" else 1,
            self.output,
        )
        seen = ContainerInfo(
            service=self.service,
            name=f"{project}-{self.service}-1",
            status=self.status,
            exit_code=self.exit_code,
            error="",
            health=self.health,
            last_check=check if self.health else None,
            started_at=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
            ports={p: p for p in self.ports} if running else {},
        )
        if self.health == "starting":
            self.set_running()  # the first probe passes: healthy at the next look
        return seen


class FakeContainerEngine(ContainerEngine):
    """The compose project's containers, in memory; ``down = True`` makes every call fail as an
    engine that stopped answering does."""

    SERVICES: dict[str, tuple[int, ...]] = {
        "postgres": (),
        "minio": (9000, 9001),
        "minio-init": (),
        "dex": (5556,),
        "mlflow": (5000,),
        "prefect": (4200,),
        "worker": (),
        "api": (8000,),
        "prometheus": (9090,),
        "grafana": (3000,),
        "app": (8501,),
    }

    def __init__(self, project: str = "rakuten-control-room") -> None:
        self.project = project
        self.down = False
        self.all = {name: FakeContainer(name, ports) for name, ports in self.SERVICES.items()}
        self.all["minio-init"].set_exited(0)  # the one-shot bucket creation is done

    def containers(self) -> list[ContainerInfo]:
        self._check()
        return [c.info(self.project) for c in self.all.values()]

    def container(self, service: str) -> ContainerInfo:
        return self._find(service).info(self.project)

    def start(self, service: str) -> None:
        container = self._find(service)
        container.calls.append("start")
        container.set_running(health="starting")

    def stop(self, service: str, timeout: int = 10) -> None:
        container = self._find(service)
        container.calls.append("stop")
        container.set_exited(0)

    def logs(self, service: str, lines: int = 100) -> str:
        return "\n".join(self._find(service).log_lines[-lines:]) + "\n"

    def _find(self, service: str) -> FakeContainer:
        self._check()
        if service not in self.all:
            known = ", ".join(sorted(self.all))
            raise Missing(
                f"No container for service {service!r} in compose project {self.project!r} "
                f"(known: {known})."
            )
        return self.all[service]

    def _check(self) -> None:
        if self.down:
            raise Unreachable(
                "The Docker engine is not reachable at unix:///var/run/docker.sock "
                "(('Connection aborted.', FileNotFoundError(2, 'No such file or directory')))"
            )
