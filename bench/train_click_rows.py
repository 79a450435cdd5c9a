"""The rows of ``bench/train_click_timeline.py``'s timeline: what each step of a click's path is,
and which of the probe's timed calls (``bench/click_probe/``) add up to it."""

from __future__ import annotations

FINISHED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
TASKS = {
    "snapshot": "snapshot",
    "fit": "fit_task",
    "evaluate": "evaluate",
    "log to MLflow": "log",
    "register and promote": "register",
}
WORKER_STARTS = ("_starter_engine.run_process", "_starter_direct.run_flow_in_subprocess")
IMPORTED = ("prefect", "mlflow", "sklearn", "pandas", "core.flows.train")
# key → (depth, label). Depth 0: a step on the path; 1, 2: what part of the step above it is.
ROWS: dict[str, tuple[int, str]] = {
    "trigger": (
        0,
        "click → flow run created (`PrefectManager.trigger`: find the deployment, "
        "create the run, audit row)",
    ),
    "poll": (0, "waiting for the worker's next poll (Scheduled → Pending)"),
    "handoff": (0, "worker hands the run to its own process (Pending → process started)"),
    "submit": (1, "the worker's own steps until it starts the process (Submitting state)"),
    "spawn": (
        1,
        "starting the process (pickle the run, a fork of the warm fork server; before: a new "
        "`python -m prefect.engine`)",
    ),
    "imports": (
        0,
        "the run's process until the flow engine starts (a fork: unpickle the run; a new "
        "interpreter: start-up, imports, reading the run, loading the flow)",
    ),
    "python": (1, "Python start-up (interpreter, site)"),
    **{f"import {m}": (1, f"`import {m}` (imports nest: counted in each)") for m in IMPORTED},
    "load_flow_run": (1, "reading the flow run from the API (`load_flow_run`)"),
    "load_flow": (1, "loading the flow (`load_flow`: imports the project, MLflow, scikit-learn)"),
    "engine": (0, "Prefect's engine in the run's process until the run is Running"),
    "setup": (
        0,
        "flow set-up before the first task (settings, model store, engine, schema check, audit)",
    ),
    "ensure_schema": (1, "schema check (`ensure_schema`)"),
    "snapshot": (0, "task: snapshot (read the loaded products and the holdout)"),
    "fit_task": (0, "task: fit"),
    "fit": (1, "`pipeline.fit` (the run's `fit_seconds`)"),
    "evaluate": (0, "task: evaluate on the holdout"),
    "log": (0, "task: log to MLflow"),
    "set_experiment": (1, "`mlflow.set_experiment` (+ looking the experiment up)"),
    "start_run": (1, "`mlflow.start_run`"),
    "tags_params": (1, "tags, params (2 calls)"),
    "signature": (1, "`infer_signature` (predicts 5 rows)"),
    "log_model": (1, "`mlflow.sklearn.log_model`"),
    "save_model": (
        2,
        "save the model locally (pickle, MLmodel, requirements files, package check)",
    ),
    "validate": (2, "validate the serving input example (reload the model, predict)"),
    "model_artifacts": (2, "upload the model's files (`log_model_artifacts`, one upload each)"),
    "logged_model": (
        2,
        "the rest: logged-model records (create it, link it to the run, re-read "
        "every metric already on the run, one request each)",
    ),
    "dep_check": (
        2,
        "(of the above, MLflow's installed-package check: at the save and the reload)",
    ),
    "metrics": (1, "metrics, after the model and linked to it (1 call)"),
    "evaluation": (
        1,
        "classification report + confusion and per-class JSON (1 call, one upload each; "
        "no static figure)",
    ),
    "log_rest": (1, "the rest (ending the MLflow run, the task's own records)"),
    "register": (0, "task: register and promote"),
    "mv_register": (1, "register the version, alias it challenger"),
    "promote": (1, "`promote_and_serve` (gate, alias champion, ask the API to reload)"),
    "gate": (2, "the gate and the champion alias (`promotion.promote`)"),
    "reload": (2, "the API reloads the champion (`HttpPredictor.reload`, waited for)"),
    "between": (0, "between the tasks (Prefect's task-run records and state reports)"),
    "teardown": (0, "after the last task until Completed (audit row, dispose, propose Completed)"),
    "page": (0, "Completed → the page's next poll sees it"),
}
# What a run costs outside the fit, one entry per separable cost (for the ranking).
LEAVES = tuple(
    "trigger poll handoff imports engine setup snapshot evaluate set_experiment start_run "
    "tags_params signature save_model validate model_artifacts logged_model metrics evaluation "
    "log_rest mv_register gate reload between teardown page".split()
)
LOG_PARTS = ("set_experiment", "start_run", "tags_params", "signature", "log_model", "metrics")
LOG_PARTS += ("evaluation",)


M = "mlflow."
# Row → the probe's events (calls in the flow-run process) whose seconds it adds up.
PROBED: dict[str, tuple[str, ...]] = {
    "load_flow_run": ("prefect.flow_engine.load_flow_run",),
    "load_flow": ("prefect.flow_engine.load_flow",),
    **{f"import {m}": (f"import {m}",) for m in IMPORTED},
    "ensure_schema": ("core.db.engine.ensure_schema",),
    "set_experiment": (M + "set_experiment",),
    "start_run": (M + "start_run",),
    "tags_params": (M + "set_tags", M + "log_params"),
    "metrics": (M + "log_metrics",),
    "evaluation": (M + "log_artifacts",),
    "signature": ("core.tracking.infer_signature",),
    "log_model": (M + "sklearn.log_model",),
    "save_model": (M + "sklearn.save_model",),
    "dep_check": (M + "utils.requirements_utils.warn_dependency_requirement_mismatches",),
    "validate": (M + "models.utils._validate_serving_input",),
    "model_artifacts": (M + "tracking.client.MlflowClient.log_model_artifacts",),
    "mv_register": ("core.adapters.model_store.MlflowModelStore.register",),
    "promote": ("core.usecases.promotion.promote_and_serve",),
    "gate": ("core.promotion.promote",),
    "reload": ("core.adapters.predictor.HttpPredictor.reload",),
}
