"""docker-compose.yml as the tests read it: parsed, with compose's interpolation and the helpers
that find a service's settings, ports, mounts, command and config files.

No Docker engine runs here, so the tests check the file itself; :func:`render` interpolates
``${VAR}`` as compose does, so a config file's content can be parsed as the container sees it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core.settings import REPO_ROOT

COMPOSE_TEXT = (REPO_ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error} and $NAME.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
# Every variable compose must be given, as ${NAME:?…} says somewhere in the file.
REQUIRED = sorted(set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_TEXT)))


def render(text: str, values: Mapping[str, str]) -> str:
    """Interpolate ``text`` as compose does with the variables ``values`` (its ``.env``).

    Raises:
        ValueError: A ``${NAME:?message}`` variable is unset or empty (compose refuses to start).
    """

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value, op, arg = values.get(name), match["op"], match["arg"]
        if op in (":-", ":?") and not value or op in ("-", "?") and value is None:
            if op.endswith("?"):
                raise ValueError(f"{name}: {arg}")
            return arg
        return value or ""

    return _VARIABLE.sub(substitute, text)


def stack_values(**overrides: str) -> dict[str, str]:
    """An ``.env`` for the stack: each required variable set to a value naming it."""
    return {name: f"{name.lower().replace('_', '-')}-value" for name in REQUIRED} | overrides


def env(service: str) -> dict[str, str]:
    """The service's ``environment``, values as written (not interpolated)."""
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def default(value: str) -> str:
    """``${VAR:-default}`` → ``default``, with every other part of the string kept."""
    return re.sub(r"\$\{[A-Z_]+:?-([^}]*)\}", r"\1", value)


def published(service: str) -> list[tuple[int, int]]:
    """(default host port, container port) of each published port."""
    pairs = []
    for entry in SERVICES[service].get("ports", []):
        host, container = default(str(entry)).rsplit(":", 2)[-2:]
        pairs.append((int(host), int(container)))
    return pairs


def container_ports(service: str) -> set[int]:
    """Ports the service's container listens on, published or only exposed to the stack."""
    return {c for _, c in published(service)} | {
        int(p) for p in SERVICES[service].get("expose", [])
    }


def mounts(service: str) -> dict[str, str]:
    """Target → source of the service's short-syntax volumes."""
    found = {}
    for entry in SERVICES[service].get("volumes", []):
        source, target = entry.split(":")[:2]
        found[target] = source
    return found


def config_files(service: str) -> dict[str, str]:
    """Target → name of the top-level config each of the service's ``configs`` mounts."""
    return {c["target"]: c["source"] for c in SERVICES[service].get("configs", [])}


def config_content(name: str, values: Mapping[str, str]) -> str:
    """A top-level config's inline content, interpolated with ``values``."""
    return render(COMPOSE["configs"][name]["content"], values)


def command(service: str) -> list[str]:
    """The service's command, as a list of arguments."""
    cmd = SERVICES[service].get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def option(cmd: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in a command."""
    for i, part in enumerate(cmd):
        if part == name and i + 1 < len(cmd):
            return cmd[i + 1]
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
    return None


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(ins.split(None, 1)[0].upper(), ins.split(None, 1)[1]) for ins in logical]
