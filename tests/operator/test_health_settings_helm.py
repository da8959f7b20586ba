"""Rollout health, settings parsing and the helm wrapper's error handling."""

from __future__ import annotations

import pytest

from tawa.errors import ConfigurationError
from tawa.operator.helm import Helm, HelmError
from tawa.operator.settings import HealthMode, OperatorSettings
from tawa.operator.steps.health import rollout_progress
from tests.operator.fakes import HELM


def _deployment(replicas=1, generation=1, observed=1, updated=1, available=1) -> dict:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


@pytest.mark.parametrize(
    ("deployment", "done", "words"),
    [
        (_deployment(), True, "1/1 replicas available"),
        (_deployment(replicas=3, available=2, updated=3), False, "2/3 replicas available"),
        (_deployment(generation=2, observed=1), False, "not yet observed"),
        (_deployment(replicas=2, available=2, updated=1), False, "1 updated"),
        (_deployment(replicas=0, available=0, updated=0), True, "zero"),
        ({"metadata": {}, "spec": {}}, False, "0/1"),
    ],
)
def test_rollout_progress(deployment, done, words) -> None:
    finished, sentence = rollout_progress(deployment)
    assert finished is done
    assert words in sentence


def test_settings_read_lists_and_modes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("TAWA_PLATFORM_SERVICES", "koko, janus")
    monkeypatch.setenv("TAWA_DISABLED_STEPS", '["dns"]')
    monkeypatch.setenv("TAWA_HEALTH_MODE", "assume")
    monkeypatch.setenv("TAWA_HELM", HELM)
    settings = OperatorSettings()
    assert settings.platform_services == ["koko", "janus"]
    assert settings.is_platform_service("koko")
    assert settings.disabled_steps == ["dns"]
    assert settings.health_mode is HealthMode.ASSUME
    assert settings.helm_binary() == HELM
    assert settings.pod_bio_id_url() == settings.identity_url.rstrip("/")


def test_a_missing_helm_says_how_to_get_one(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="TAWA_HELM"):
        OperatorSettings(helm="").helm_binary()


async def test_helm_failures_are_wrapped_once_with_the_stderr_tail(tmp_path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: 'sekret-token-value'}}]\n"
    )
    helm = Helm(HELM, home=tmp_path / "helm", kubeconfig=str(kubeconfig), timeout=30)
    with pytest.raises(HelmError) as raised:
        await helm.status("my-api", "my-api-sandbox")
    assert raised.value.message.startswith("helm status my-api failed (exit 1): ")
    assert "connection refused" in raised.value.message
    assert "sekret" not in raised.value.message
    assert list((tmp_path / "helm" / "tmp").iterdir()) == []
