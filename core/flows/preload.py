"""What every flow run needs, imported once by the worker's fork server (:mod:`core.flows.warm`).

Importing this module is its whole job, and only the fork server imports it: each flow run is
then a fork that finds Prefect's engine, MLflow, scikit-learn, pandas and the project's flows
already imported, and MLflow's map of the installed distributions already built (its check of a
model's requirements against the environment, at ``log_model``'s save and again when it reloads
the model to validate the input example, otherwise builds it in every run: ~0.4 s idle, 1-2 s on
a busy machine).

It also ties the fork server and its runs to the worker's life
(:func:`core.flows.warm.bind_to_worker`).
"""

from __future__ import annotations

import logging
import os

import mlflow.pyfunc  # noqa: F401  # what log_model's validation loads the model with
import mlflow.sklearn  # noqa: F401
import prefect.flow_engine  # noqa: F401  # what runs a flow in the fork
from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

import core.flows.data  # noqa: F401
import core.flows.monitor  # noqa: F401
import core.flows.train  # noqa: F401
from core.flows.warm import bind_to_worker
from core.tracking import MODEL_REQUIREMENTS

IMPORTED_BY = os.getpid()  # forks check that their parent did the importing

try:
    # MLflow caches the distributions map per process the first time it checks requirements.
    warn_dependency_requirement_mismatches(MODEL_REQUIREMENTS)
except Exception:  # noqa: BLE001  # an error here would kill the fork server, not one run
    logging.getLogger(__name__).warning("Could not warm MLflow's requirements check", exc_info=True)

bind_to_worker()  # a run left behind by a killed worker would run on, shown Running for good
