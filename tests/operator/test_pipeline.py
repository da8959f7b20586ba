"""The pipeline registry: order, absent modules, disabled steps, how steps are offered."""

from __future__ import annotations

import sys
import types

import pytest

from tawa.errors import ConfigurationError
from tawa.operator import pipeline
from tawa.operator.settings import OperatorSettings


def test_the_shipped_steps_load_in_pipeline_order(settings) -> None:
    names = [step.name for step in pipeline.load(settings)]
    order = list(pipeline.STEPS)
    assert names == sorted(names, key=order.index)
    assert {"links", "release", "health"} <= set(names)
    assert names.index("links") < names.index("release") < names.index("health")


def test_disabled_steps_are_left_out(monkeypatch, settings) -> None:
    monkeypatch.setenv("TAWA_DISABLED_STEPS", "health, release")
    ours = OperatorSettings(helm=settings.helm)
    names = [step.name for step in pipeline.load(ours)]
    assert "health" not in names
    assert "release" not in names


def test_a_step_whose_module_does_not_exist_is_absent(monkeypatch, settings) -> None:
    monkeypatch.setitem(pipeline.STEPS, "later", "not_written_yet")
    assert pipeline.load(settings, names=["later"]) == []


class _Offered:
    name = "probe"
    condition = "Healthy"

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings

    async def ensure(self, ctx): ...

    async def remove(self, ctx): ...


@pytest.mark.parametrize("how", ["class", "STEP-factory", "STEP-object"])
def test_a_module_offers_its_step_by_class_or_by_STEP(monkeypatch, settings, how) -> None:
    module = types.ModuleType("tawa.operator.steps.probe_step")
    if how == "class":
        offered = type("Probe", (_Offered,), {"__module__": module.__name__})
        module.Probe = offered
    elif how == "STEP-factory":
        module.STEP = _Offered
    else:
        module.STEP = _Offered(settings)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(pipeline.STEPS, "probe", "probe_step")
    monkeypatch.setattr(pipeline.importlib.util, "find_spec", lambda name: True)
    (step,) = pipeline.load(settings, names=["probe"])
    assert step.name == "probe"
    assert step.settings is settings


def test_a_module_without_a_step_is_a_configuration_error(monkeypatch, settings) -> None:
    module = types.ModuleType("tawa.operator.steps.empty_step")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(pipeline.STEPS, "empty", "empty_step")
    monkeypatch.setattr(pipeline.importlib.util, "find_spec", lambda name: True)
    with pytest.raises(ConfigurationError, match="empty_step"):
        pipeline.load(settings, names=["empty"])
