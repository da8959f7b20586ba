"""The platform chart hands the builder settings to the operator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".tools" / "bin" / "helm"


def operator_env(*sets: str) -> dict[str, str]:
    arguments = [str(HELM), "template", "t", str(ROOT / "charts" / "tawa"),
                 "--set", "internalKey.existingSecret=tawa-internal"]  # fmt: skip
    for value in sets:
        arguments += ["--set", value]
    rendered = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    for document in yaml.safe_load_all(rendered):
        if (
            document
            and document["kind"] == "Deployment"
            and "operator" in document["metadata"]["name"]
        ):
            (container,) = document["spec"]["template"]["spec"]["containers"]
            return {e["name"]: e.get("value") for e in container["env"]}
    raise AssertionError("no operator Deployment rendered")


def test_builder_values_become_operator_settings():
    env = operator_env(
        "builder.imageRegistry=registry.example.com/tawa",
        "builder.registrySecret=tawa-system/regcred",
        "builder.gitSecret=git-token",
    )
    assert env["TAWA_IMAGE_REGISTRY"] == "registry.example.com/tawa"
    assert env["TAWA_REGISTRY_SECRET"] == "tawa-system/regcred"
    assert env["TAWA_GIT_SECRET"] == "git-token"


def test_by_default_nothing_is_built():
    assert operator_env()["TAWA_IMAGE_REGISTRY"] == ""
