"""A local copy of the last champion served, so that an API restarted while MLflow is down serves.

The registry is the source of truth: the copy is read only when the registry cannot be reached.
It lives in ``<var_dir>/models/champion/`` (not under ``run/``, which each start clears) as two
files, each replaced atomically (written to a temporary name, then renamed):

- ``model.pickle``: the version's :class:`~core.serving.compiled.CompiledModel`;
- ``manifest.json``: which version it is, where it came from, and the SHA-256 of the pickle.

The manifest is renamed last and names the pickle's digest, so a copy cut between the two
renames, truncated or edited reads as corrupt, never as another version. Both files are 0600 in a
0700 folder, and a pickle that is not this user's own, or that others may write, is never read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import stat
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.runtime_files import open_private, replace_private
from core.serving.compiled import CompiledModel

MODEL_FILE = "model.pickle"
MANIFEST_FILE = "manifest.json"


class LocalCopyError(Exception):
    """The local copy exists but cannot be used (unreadable, corrupt, not private)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the local copy holds.

    Attributes:
        name: The registered model's name.
        version: Its registry version.
        run_id: The training run of that version.
        loaded_at: When the API loaded it from the registry.
        saved_at: When this copy was written.
        source: The registry it came from (its URI).
        sha256: Digest of ``model.pickle``.
    """

    name: str
    version: int
    run_id: str
    loaded_at: datetime
    saved_at: datetime
    source: str
    sha256: str


def champion_dir(var_dir: Path) -> Path:
    """Where the local copy of the champion lives.

    Args:
        var_dir: The runtime folder (``RAKUTEN_VAR_DIR``).

    Returns:
        ``<var_dir>/models/champion``.
    """
    return var_dir / "models" / "champion"


def save(directory: Path, model: CompiledModel, manifest: Manifest) -> Manifest:
    """Replace the local copy with ``model``.

    Args:
        directory: The copy's folder (created 0700 if needed).
        model: The compiled model to keep.
        manifest: What it is; its ``sha256`` is ignored and computed here.

    Returns:
        The manifest written (with the pickle's digest).
    """
    for folder in (directory.parent, directory):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # an existing folder too: it will hold a pickle we execute
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    written = Manifest(**{**asdict(manifest), "sha256": hashlib.sha256(data).hexdigest()})
    text = json.dumps(_jsonable(written), indent=2).encode()
    # The workers of one API save the same version at once: one pair of renames at a time, or
    # a pickle could end up next to another worker's manifest.
    with open_private(directory / ".lock", append=True) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        replace_private(directory / MODEL_FILE, data)
        replace_private(directory / MANIFEST_FILE, text)  # last: it vouches for the pickle
    return written


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of the local copy, or ``None`` when there is no copy.

    Raises:
        LocalCopyError: The manifest cannot be read or is not a manifest.
    """
    path = directory / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalCopyError(f"cannot read the local copy's manifest {path}: {exc}") from exc
    try:
        fields = json.loads(raw)
        return Manifest(
            name=str(fields["name"]),
            version=int(fields["version"]),
            run_id=str(fields["run_id"]),
            loaded_at=datetime.fromisoformat(fields["loaded_at"]),
            saved_at=datetime.fromisoformat(fields["saved_at"]),
            source=str(fields["source"]),
            sha256=str(fields["sha256"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LocalCopyError(f"the local copy's manifest {path} is corrupt: {exc!r}") from exc


def load(directory: Path) -> tuple[Manifest, CompiledModel] | None:
    """The local copy, or ``None`` when there is none.

    Args:
        directory: The copy's folder.

    Returns:
        Its manifest and compiled model.

    Raises:
        LocalCopyError: The copy is unreadable, corrupt (its digest differs from the manifest's),
            not this user's own, writable by others, or not a compiled model.
    """
    manifest = read_manifest(directory)
    if manifest is None:
        return None
    path = directory / MODEL_FILE
    _check_private(directory)
    _check_private(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LocalCopyError(f"cannot read the local copy {path}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise LocalCopyError(
            f"the local copy {path} is corrupt: its SHA-256 differs from the manifest's "
            f"(version {manifest.version})"
        )
    try:
        # Checked above: our own file, in our own private folder, with the digest we wrote.
        model = pickle.loads(data)  # noqa: S301
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
        raise LocalCopyError(f"the local copy {path} cannot be unpickled: {exc!r}") from exc
    if not isinstance(model, CompiledModel):
        raise LocalCopyError(
            f"the local copy {path} holds a {type(model).__name__}, not a compiled model"
        )
    return manifest, model


def remove(directory: Path) -> None:
    """Delete the local copy (manifest first: a half-removed copy reads as none)."""
    for name in (MANIFEST_FILE, MODEL_FILE):
        (directory / name).unlink(missing_ok=True)


def _check_private(path: Path) -> None:
    try:
        status = path.stat()
    except OSError as exc:
        raise LocalCopyError(f"cannot read the local copy {path}: {exc}") from exc
    if status.st_uid != os.getuid():
        raise LocalCopyError(f"the local copy {path} is not owned by this user: not read")
    if stat.S_IMODE(status.st_mode) & 0o022:
        raise LocalCopyError(f"the local copy {path} is writable by others: not read")


def _jsonable(manifest: Manifest) -> dict[str, Any]:
    fields = asdict(manifest)
    fields["loaded_at"] = manifest.loaded_at.isoformat()
    fields["saved_at"] = manifest.saved_at.isoformat()
    return fields
