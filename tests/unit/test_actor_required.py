"""Every state change says who made it: its ``actor`` parameter is required and typed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any, get_type_hints

import pytest

import app.managers
import core.usecases
from app.managers.access import AccessManager
from app.managers.dataset import DatasetManager
from app.managers.docker_services import DockerServiceManager
from app.managers.flows import PrefectManager
from app.managers.inference import InferenceManager
from app.managers.predictions import PredictionManager
from app.managers.registry import RegistryManager
from app.managers.services import LocalServiceManager, ServiceManager
from core import promotion
from core.access import Actor, roles
from core.adapters.model_store import ModelStore
from core.backup import backup_database, restore_database
from core.data import loading, store
from core.drift_store import DriftRun
from core.tracking import log_training_run
from core.usecases import dataset as lifecycle
from core.usecases import promotion as champion

# Add each new state-changing use case or manager method here.
STATE_CHANGING: list[Callable[..., Any]] = [
    loading.initialize,
    loading.load_next_batch,
    loading.reset,
    store.import_products,
    lifecycle.import_catalogue,
    DatasetManager.import_builtin,
    DatasetManager.import_files,
    DatasetManager.initialize,
    DatasetManager.load_next_batch,
    DatasetManager.reset,
    InferenceManager.record_feedback,
    DriftRun,
    promotion.promote,
    promotion.rollback,
    champion.promote_and_serve,
    champion.rollback_and_serve,
    RegistryManager.promote,
    RegistryManager.rollback,
    log_training_run,
    ModelStore.log_run,
    PrefectManager.trigger,
    PrefectManager.set_paused,
    ServiceManager.start,
    ServiceManager.stop,
    ServiceManager.restart,
    LocalServiceManager.start,
    LocalServiceManager.stop,
    DockerServiceManager.start,
    DockerServiceManager.stop,
    PredictionManager.send_traffic,
    roles.assign_role,
    roles.revoke_role,
    AccessManager.assign,
    AccessManager.revoke,
    backup_database,
    restore_database,
]


@pytest.mark.parametrize("change", STATE_CHANGING, ids=lambda c: c.__qualname__)
def test_the_actor_is_required(change: Callable[..., Any]) -> None:
    parameter = inspect.signature(change).parameters.get("actor")
    assert parameter is not None, f"{change.__qualname__} takes no actor"
    assert parameter.default is inspect.Parameter.empty, (
        f"{change.__qualname__}: actor has a default"
    )
    assert get_type_hints(change)["actor"] is Actor


def test_the_loading_use_cases_are_the_domain_functions() -> None:
    # One implementation of each step, whichever of the page, the flow and the CLI calls it.
    assert lifecycle.initialize is loading.initialize
    assert lifecycle.load_next_batch is loading.load_next_batch
    assert lifecycle.reset is loading.reset


# Every public method of every manager and every use-case function either takes a required actor
# (checked above and below) or is listed here as one that changes nothing. A new method that is
# in neither fails the test below: decide which it is.
READERS = {
    "DatasetManager": {
        "status",
        "history",
        "class_distribution",
        "text_stats",
        "search",
        "holdout",
        "examples",
    },
    "InferenceManager": {
        "predictions",
        "wait_until_logged",
        "feedback_accuracy",
        "prediction_count",
    },
    "DriftManager": {"checks", "latest", "report"},
    "ExperimentsManager": {"runs", "run_detail"},
    "RegistryManager": {"versions", "champion", "gate", "promotion_log"},
    # A live prediction is open to everyone (it lands in the inference log, written by the API);
    # simulated traffic (send_traffic) is an operator's.
    "PrefectManager": {"unavailable", "flow_run", "progress", "recent_runs", "deployments"},
    "PrometheusManager": {"service_health"},
    "ServiceManager": {"services", "service", "logs", "links", "tool_links"},
    "LocalServiceManager": {"services", "service", "logs"},
    "DockerServiceManager": {"services", "service", "logs"},
    "core.usecases.dataset": {"builtin_catalogue", "challenge_catalogue", "labelled_catalogue"},
    "app.managers.experiments": {"store_errors"},
    "app.managers.errors": {"permission_errors"},
    "app.managers.flows": {"trigger_action"},
    "PredictionManager": {"health", "predict", "predict_batch", "scrape"},
    "AccessManager": {"assignments", "role_of", "audit"},
    "ShadowManager": {"comparison", "canary"},
    "core.usecases.promotion": {"live_gate"},
}


def public_callables() -> list[tuple[str, str, Callable[..., Any]]]:
    """(owner, name, callable) for every public manager method and use-case function."""
    found = []
    for package in (app.managers, core.usecases):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, obj in vars(module).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isclass(obj) and name.endswith("Manager"):
                    found += [
                        (name, member, fn)
                        for member, fn in vars(obj).items()
                        if not member.startswith("_") and inspect.isfunction(fn)
                    ]
                elif inspect.isfunction(obj):
                    found.append((module.__name__, name, obj))
    return found


def test_every_manager_method_and_use_case_is_either_a_reader_or_takes_the_actor() -> None:
    unclassified, bad = [], []
    for owner, name, fn in public_callables():
        parameter = inspect.signature(fn).parameters.get("actor")
        if parameter is None:
            if name not in READERS.get(owner, set()):
                unclassified.append(f"{owner}.{name}")
        elif parameter.default is not inspect.Parameter.empty:
            bad.append(f"{owner}.{name}")
        elif name in READERS.get(owner, set()):
            bad.append(f"{owner}.{name} (listed as a reader)")
    assert not unclassified, f"changes state? give it a required actor, or list it: {unclassified}"
    assert not bad, f"actor must be required: {bad}"


def test_the_enumeration_finds_the_state_changes() -> None:
    names = {f"{owner}.{name}" for owner, name, _ in public_callables()}
    assert {"DatasetManager.reset", "RegistryManager.promote", "PrefectManager.set_paused"} <= names
    assert "core.usecases.promotion.promote_and_serve" in names
