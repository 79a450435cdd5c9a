"""The compose stack, checked by parsing it (no Docker engine runs here)."""

from __future__ import annotations

import re

import pytest
import yaml

from core.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health(name: str) -> None:
    for dependency, spec in SERVICES[name].get("depends_on", {}).items():
        assert dependency in SERVICES
        assert spec.get("condition") in {"service_healthy", "service_completed_successfully"}


def test_no_secret_is_written_in_the_file() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"(PASSWORD|SECRET|TOKEN)[A-Z_]*:\s*(\S+)", text):
        assert match.group(2).startswith("${"), f"hard-coded secret: {match.group(0)}"


def test_built_images_exist() -> None:
    for spec in SERVICES.values():
        if "build" in spec:
            assert (REPO_ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()


def test_every_compose_variable_is_documented() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (REPO_ROOT / ".env.example").read_text()
    assert not [name for name in used if f"{name}=" not in example]
