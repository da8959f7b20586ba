"""Fixtures for the operator suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tawa.operator.settings import OperatorSettings
from tests.operator.fakes import HELM, FakeStep


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> OperatorSettings:
    for name in ("TAWA_DISABLED_STEPS", "TAWA_HEALTH_MODE", "TAWA_PLATFORM_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    return OperatorSettings(helm=HELM, helm_home=tmp_path / "helm", retry_delay=7)


@pytest.fixture(autouse=True)
def _fresh_journal() -> None:
    FakeStep.journal.clear()


class FakeCluster:
    """What ``reconcile`` asks the API outside kopf: TawaServices by name."""

    def __init__(self) -> None:
        self.services: list[dict] = []

    async def services_named(self, name: str) -> list[dict]:
        return [s for s in self.services if s["metadata"]["name"] == name]


@pytest.fixture(autouse=True)
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()
    monkeypatch.setattr("tawa.operator.reconcile.connect", lambda kubeconfig=None: fake)
    return fake
