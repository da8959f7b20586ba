"""The ``python -m tawa.localkube`` process: its header, its kubeconfig, a
clean and quick stop on SIGTERM even with watches open."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml

from tests.harness.localkube import local_kube

pytestmark = pytest.mark.integration


def test_kubeconfig_points_at_the_server():
    with local_kube() as kube:
        config = yaml.safe_load(kube.kubeconfig.read_text())
        mode = kube.kubeconfig.stat().st_mode

    assert config["clusters"][0]["cluster"]["server"] == kube.url
    assert kube.url.startswith("http://127.0.0.1:")
    assert config["contexts"][0]["context"]["namespace"] == "default"
    assert mode & 0o077 == 0


def test_sigterm_stops_quickly_with_a_watch_open():
    with local_kube() as kube:
        watcher = subprocess.Popen(
            ["kubectl", "get", "configmaps", "--watch"],
            env=kube.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)  # the watch is open
            started = time.monotonic()
            kube.stop()
            stopped_after = time.monotonic() - started
        finally:
            watcher.kill()
            watcher.wait(timeout=5)

    assert kube.process.returncode == 0
    assert stopped_after < 5
