"""A tiny kopf operator, run as a real ``kopf run --standalone`` subprocess
against the local API: the create handler runs exactly once and patches
status; the finalizer is added, and removed on delete."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"

OPERATOR = """
import kopf

@kopf.on.startup()
def configure(settings, **_):
    settings.watching.server_timeout = 5
    settings.posting.enabled = False

@kopf.on.create("example.com", "v1", "widgets")
def created(spec, patch, logger, **_):
    logger.info("create handler ran")
    patch.status["phase"] = "Ready"

@kopf.on.delete("example.com", "v1", "widgets")
def deleted(logger, **_):
    logger.info("delete handler ran")
"""


def eventually(check, *, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, ApiException):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("the condition was not met in time")
        time.sleep(0.2)


@pytest.fixture
def operator(localkube, widgets, namespace, tmp_path: Path):
    source = tmp_path / "operator.py"
    source.write_text(OPERATOR)
    log = tmp_path / "kopf.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kopf",
                "run",
                "--standalone",
                "--namespace",
                namespace,
                str(source),
            ],
            env=localkube.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_kopf_operator_handles_create_once_and_releases_its_finalizer(api, namespace, operator):
    objects = client.CustomObjectsApi(api)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    def get():
        return objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")

    handled = eventually(lambda: get() if get().get("status", {}).get("phase") else None)
    assert FINALIZER in handled["metadata"]["finalizers"]
    time.sleep(1.0)  # room for a wrongly replayed ADDED event to run the handler again
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")

    def gone():
        try:
            get()
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone)
    log = operator.read_text()
    assert log.count("create handler ran") == 1, log
    assert log.count("delete handler ran") == 1, log
