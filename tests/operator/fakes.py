"""Helpers for the operator suite: a context factory, fake steps, a status writer.

Fake steps stand in for the step plugins (an interface the pipeline is built
to take); everything the steps talk to is real in the integration tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import TawaServiceSpec

ROOT = Path(__file__).resolve().parents[2]
HELM = str(ROOT / ".tools" / "bin" / "helm")

SPEC: dict[str, Any] = {
    "name": "my-api",
    "owner": "acme",
    "environment": "sandbox",
    "framework": "express",
    "image": "ghcr.io/acme/my-api:1.2.3",
    "tier": "small",
    "port": 3000,
    "healthPath": "/health",
}


def make_body(spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    spec = dict(SPEC if spec is None else spec)
    metadata = {"name": spec.get("name", "my-api"), "namespace": "my-api-sandbox"}
    metadata.update({"uid": "u-1", "generation": 1, **meta})
    return {"metadata": metadata, "spec": spec, "status": {}}


def make_context(settings: OperatorSettings, **spec: Any) -> StepContext:
    parsed = TawaServiceSpec.model_validate({**SPEC, **spec})
    return StepContext(
        name=parsed.name,
        namespace=f"{parsed.name}-{parsed.environment.value}",
        environment=parsed.environment.value,
        spec=parsed,
        uid="u-1",
        generation=1,
        settings=settings,
        logger=logging.getLogger("test"),
    )


@dataclass
class FakeStep:
    """A step that returns, or raises, what it is told; records its calls."""

    name: str
    condition: str
    result: Outcome | BaseException = field(
        default_factory=lambda: Outcome(ok=True, reason="Done", message="All good.")
    )
    calls: list[str] = field(default_factory=list)
    journal: ClassVar[list[str]] = []

    async def ensure(self, ctx: StepContext) -> Outcome:
        self.calls.append("ensure")
        FakeStep.journal.append(f"ensure:{self.name}")
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    async def remove(self, ctx: StepContext) -> None:
        self.calls.append("remove")
        FakeStep.journal.append(f"remove:{self.name}")


class Writer:
    """Collects status patches as the API would receive them, and applies them."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.patches: list[dict[str, Any]] = []

    async def __call__(self, name: str, namespace: str, status: dict[str, Any]) -> None:
        self.patches.append(status)
        self.body["status"] = {**self.body.get("status", {}), **status}
