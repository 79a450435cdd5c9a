"""The fakes keep the real managers' public methods, so page tests cannot drift from production."""

from __future__ import annotations

import inspect

import pytest

from app.managers.experiments import MlflowManager
from app.managers.flows import PrefectManager
from app.managers.predictions import PredictionManager
from app.managers.prometheus import PrometheusManager
from tests.fakes import (
    FakeMlflowManager,
    FakePredictionManager,
    FakePrefectManager,
    FakePrometheusManager,
)


def public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


@pytest.mark.parametrize(
    ("real", "fake"),
    [
        (MlflowManager, FakeMlflowManager),
        (PrefectManager, FakePrefectManager),
        (PredictionManager, FakePredictionManager),
        (PrometheusManager, FakePrometheusManager),
    ],
)
def test_fake_has_every_public_method_with_the_same_parameters(real: type, fake: type) -> None:
    fake_methods = public(fake)
    for name, signature in public(real).items():
        assert name in fake_methods, f"{fake.__name__} lacks {name}"
        assert list(signature.parameters) == list(fake_methods[name].parameters), name
