"""The ordered steps of a reconcile, and how they are found.

Each step lives in ``tawa.operator.steps.<module>`` and is listed once in
:data:`STEPS`, in pipeline order; a module that does not exist yet is simply
absent from the pipeline, so adding a step is one line here plus its module.

A step module offers its step in one of two ways, checked in this order:

- a module attribute ``STEP``: a step object, or a callable taking the
  operator settings and returning one;
- a class defined in the module whose ``name`` class attribute equals the
  step's name; it is built with the settings if its constructor takes an
  argument, else with none.

``TAWA_DISABLED_STEPS`` (comma-separated names) leaves steps out by
configuration, e.g. ``health`` on a machine where nothing can answer.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from tawa.errors import ConfigurationError
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Step

_PACKAGE = "tawa.operator.steps"

STEPS: dict[str, str] = {
    "gate": "gate",
    "build": "build",
    "databases": "databases",
    "oauth": "oauth",
    "links": "links",
    "config": "config",
    "release": "release",
    "registration": "registration",
    "dns": "dns",
    "health": "health",
    "smoke": "smoke",
}
"""Step name → module under ``tawa.operator.steps``, in the order ``ensure`` runs."""


def load(settings: OperatorSettings, *, names: Sequence[str] | None = None) -> list[Step]:
    """Build the pipeline: every listed step whose module exists and is not disabled."""
    steps: list[Step] = []
    for name in names if names is not None else STEPS:
        if name in settings.disabled_steps:
            continue
        module = _import(STEPS[name])
        if module is not None:
            steps.append(_build(module, name, settings))
    return steps


def _import(module_name: str) -> ModuleType | None:
    qualified = f"{_PACKAGE}.{module_name}"
    if importlib.util.find_spec(qualified) is None:
        return None
    return importlib.import_module(qualified)


def _build(module: ModuleType, name: str, settings: OperatorSettings) -> Step:
    offered: Any = getattr(module, "STEP", None)
    if offered is None:
        offered = _step_class(module, name)
    if inspect.isclass(offered) or (callable(offered) and not hasattr(offered, "ensure")):
        offered = offered(settings) if _takes_argument(offered) else offered()
    if not (hasattr(offered, "ensure") and hasattr(offered, "remove")):
        raise ConfigurationError(f"step module {module.__name__} offers no ensure/remove step")
    step: Step = offered
    return step


def _step_class(module: ModuleType, name: str) -> type:
    for candidate in vars(module).values():
        if (
            inspect.isclass(candidate)
            and candidate.__module__ == module.__name__
            and getattr(candidate, "name", None) == name
        ):
            return candidate
    raise ConfigurationError(
        f"step module {module.__name__} defines neither STEP nor a class with name = {name!r}"
    )


def _takes_argument(factory: Any) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        for p in parameters
    )
