"""Compile a registered version in a child process, so the serving process never imports sklearn.

Reading the logged pipeline needs scikit-learn, which imports pandas, pyarrow and scipy.stats:
about 170 MiB that a process keeps once it has imported them, although serving the compiled model
needs none of it. So the serving process asks a short-lived child (``python -m
core.serving.isolated``) to load the version from MLflow, compile it, verify it against the
pipeline (:func:`core.serving.compile.verify`) and write it to a file; the parent loads that
pickle of numpy arrays and a vocabulary. A pipeline that cannot be compiled is reported as such
(exit status :data:`NOT_COMPILABLE`) and the caller serves the pipeline itself, in-process.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from core.adapters.model_refs import VersionRef
from core.serving.compiled import CompiledModel

log = logging.getLogger("core.serving")
NOT_COMPILABLE = 3  # the child's exit status when the pipeline has parts it does not compile
TIMEOUT = 600.0  # seconds for the child: a large model on a busy machine


class CompileFailed(RuntimeError):
    """The child could not load or compile the version (the reason is in the message)."""


def compile_in_child(
    tracking_uri: str, ref: VersionRef, credentials: tuple[str, str] | None = None
) -> CompiledModel | None:
    """The version's compiled model, made by a child process; None if it is not compilable.

    Args:
        tracking_uri: The MLflow tracking store the version is in.
        ref: The version (its ``source`` is what is loaded).
        credentials: MLflow user name and password for the child, if the server needs them.

    Returns:
        The verified compiled model, or None when the pipeline has parts it cannot compile.

    Raises:
        CompileFailed: The child failed otherwise (MLflow down, a broken model, a timeout).
    """
    env = dict(os.environ)
    if credentials:
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = credentials
    with tempfile.TemporaryDirectory(prefix="rakuten-compile-") as tmp:
        out = Path(tmp) / "model.pickle"
        command = [sys.executable, "-m", __name__, tracking_uri, ref.source, str(out)]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise CompileFailed(f"compiling {ref.source} took over {TIMEOUT:.0f} s") from exc
        said = (done.stderr or "").strip().splitlines()
        if done.returncode == NOT_COMPILABLE:
            log.warning("serving the pipeline itself, not a compiled model: %s", said[-1:])
            return None
        if done.returncode != 0:
            raise CompileFailed(f"compiling {ref.source} failed: {' '.join(said[-1:])}")
        with out.open("rb") as file:
            compiled = pickle.load(file)  # noqa: S301 - our own child's file, just written
    if not isinstance(compiled, CompiledModel):
        raise CompileFailed(f"the child wrote a {type(compiled).__name__}, not a compiled model")
    log.info("compiled %s in a child process: %s", ref.source, said[-1] if said else "")
    return compiled


def main(argv: list[str]) -> int:
    """Child: load ``argv = [tracking_uri, source, out]``, compile, verify, write ``out``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    tracking_uri, source, out = argv
    from core.adapters.model_store import model_store
    from core.serving.compile import NotCompilable, compile_pipeline, verify

    pipeline = model_store(tracking_uri, "api").load_pipeline(VersionRef(0, "", source))
    try:
        compiled = compile_pipeline(pipeline)
        worst = verify(compiled, pipeline)
    except NotCompilable as exc:
        log.warning("%s", exc)
        return NOT_COMPILABLE
    with open(out, "wb") as file:
        pickle.dump(compiled, file, protocol=pickle.HIGHEST_PROTOCOL)
    log.info("verified against the pipeline: largest probability difference %.2g", worst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
