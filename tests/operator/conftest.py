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
