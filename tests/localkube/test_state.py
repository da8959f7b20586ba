"""Objects survive a restart when the server has a state folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.localkube import local_kube
from tests.localkube.conftest import CRD, kubectl

pytestmark = pytest.mark.integration


def test_objects_and_custom_types_survive_a_restart(tmp_path: Path):
    with local_kube(state_dir=tmp_path) as kube:
        kubectl(kube, "apply", "-f", "-", stdin=CRD)
        kubectl(kube, "create", "secret", "generic", "kept", "--from-literal=a=b")
        widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"
        kubectl(kube, "apply", "-f", "-", stdin=widget)
        before = kubectl(kube, "get", "secret", "kept", "-o", "jsonpath={.metadata.uid}").stdout

    with local_kube(state_dir=tmp_path) as kube:
        after = kubectl(kube, "get", "secret", "kept", "-o", "jsonpath={.metadata.uid}").stdout
        widgets = kubectl(kube, "get", "widgets", "-o", "name").stdout

    assert after == before
    assert widgets.split() == ["widget.example.com/w"]
    assert (tmp_path / "state.json").stat().st_mode & 0o077 == 0
