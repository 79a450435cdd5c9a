"""The champion over MLflow's REST API, for a serving process that does not import ``mlflow``.

Importing the ``mlflow`` package costs a serving process about 120 MiB of resident memory
(pandas, pyarrow and its own modules) for two small questions it asks every few seconds: is the
server up, and where does the champion alias point. :class:`HttpRegistry` asks them with
``requests``; loading a version's pipeline, rare and heavy anyway, goes through
:class:`~core.adapters.model_store.MlflowModelStore` (imported then, or in a child process: see
:mod:`core.serving.isolated`). A store that is not an HTTP server (``sqlite:///…``) can only be
read by the ``mlflow`` package: :class:`LocalRegistry` uses its client, nothing more.
"""

from __future__ import annotations

from typing import Any

import requests
from pydantic import SecretStr

from core.adapters.errors import AdapterError, Missing, Unreachable
from core.adapters.mlflow_http import refusal
from core.adapters.model_refs import ServingSource, VersionRef, no_alias
from core.registry import CHAMPION, MODEL_NAME

ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
_NO_ALIAS = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # as MlflowModelStore
TIMEOUT = 5.0  # seconds: an alias check must not hold the follower for long


def serving_source(
    tracking_uri: str, username: str = "", password: SecretStr | None = None
) -> ServingSource:
    """The champion's source at ``tracking_uri``: REST for a server, the MLflow client else."""
    if tracking_uri.startswith(("http://", "https://")):
        return HttpRegistry(tracking_uri, username, password or SecretStr(""))
    return LocalRegistry(tracking_uri)


class HttpRegistry(ServingSource):
    """The registry of the MLflow tracking server at ``uri``, through its REST API."""

    def __init__(self, uri: str, username: str = "", password: SecretStr | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.username = username
        self.password = password or SecretStr("")
        self._session = requests.Session()
        if username:
            self._session.auth = (username, self.password.get_secret_value())

    def check_reachable(self) -> None:
        self._get("/health")

    def champion_ref(self) -> VersionRef:
        return self.alias_ref(CHAMPION)

    def alias_ref(self, alias: str) -> VersionRef:
        try:
            params = {"name": MODEL_NAME, "alias": alias}
            found = self._get(ALIAS_PATH, params, missing=_NO_ALIAS).json()
        except Missing as exc:
            raise Missing(no_alias(alias)) from exc
        version = found.get("model_version") or {}
        if "version" not in version:
            raise AdapterError(f"MLflow at {self.uri} answered the alias without a version")
        number = int(version["version"])
        source = version.get("source") or f"models:/{MODEL_NAME}/{number}"
        return VersionRef(number, version.get("run_id") or "", source)

    def load_pipeline(self, ref: VersionRef) -> Any:
        from core.adapters.model_store import model_store  # heavy, and only to read a pickle

        return model_store(self.uri, "api", self.username, self.password).load_pipeline(ref)

    def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        missing: tuple[str, ...] = ("RESOURCE_DOES_NOT_EXIST",),
    ) -> requests.Response:
        try:
            response = self._session.get(f"{self.uri}{path}", params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise Unreachable(f"MLflow not reachable at {self.uri} ({type(exc).__name__})") from exc
        refused = refusal(response.status_code, self.uri)
        if refused is not None:
            raise refused
        if response.status_code == 404 or _error_code(response) in missing:
            raise Missing(f"MLflow at {self.uri}: {path} not found")
        if response.status_code >= 500:
            raise Unreachable(f"MLflow at {self.uri} failed ({response.status_code})")
        if response.status_code >= 400:
            raise AdapterError(f"MLflow error at {self.uri}: {response.status_code}")
        return response


class LocalRegistry(ServingSource):
    """A local store (``sqlite:///…``): only the ``mlflow`` package reads it.

    Not :class:`~core.adapters.model_store.MlflowModelStore`, whose module imports the training
    code (scikit-learn, about 60 MiB more): the alias is read with MLflow's client alone.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def check_reachable(self) -> None:
        """A file: nothing to probe."""

    def champion_ref(self) -> VersionRef:
        return self.alias_ref(CHAMPION)

    def alias_ref(self, alias: str) -> VersionRef:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from core.adapters.mlflow_http import mlflow_error

        try:
            client = MlflowClient(self.uri, registry_uri=self.uri)
            found = client.get_model_version_by_alias(MODEL_NAME, alias)
        except MlflowException as exc:  # the same reading as MlflowModelStore.alias_ref
            if exc.error_code in _NO_ALIAS:
                raise Missing(no_alias(alias)) from exc
            raise mlflow_error(exc, self.uri) from exc
        source = found.source or f"models:/{MODEL_NAME}/{found.version}"
        return VersionRef(int(found.version), found.run_id or "", source)

    def load_pipeline(self, ref: VersionRef) -> Any:
        from core.adapters.model_store import model_store

        return model_store(self.uri, "api").load_pipeline(ref)


def _error_code(response: requests.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        return str(response.json().get("error_code"))
    except (ValueError, AttributeError):
        return None
