"""The real ``kubectl`` against the local API, validation on (no
``--validate=false``)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.localkube.conftest import CRD, kubectl

pytestmark = pytest.mark.integration

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  labels: {app: shop}
spec: {size: SIZE}
"""


def test_apply_get_and_delete_a_custom_object(localkube, widgets, namespace):
    first = kubectl(
        localkube, "apply", "-n", namespace, "-f", "-", stdin=WIDGET.replace("SIZE", "1")
    )
    second = kubectl(
        localkube, "apply", "-n", namespace, "-f", "-", stdin=WIDGET.replace("SIZE", "2")
    )
    found = json.loads(kubectl(localkube, "get", "wg", "w", "-n", namespace, "-o", "json").stdout)
    by_label = kubectl(localkube, "get", "widgets", "-n", namespace, "-l", "app=shop", "-o", "name")
    deleted = kubectl(localkube, "delete", "widget", "w", "-n", namespace)
    after = kubectl(localkube, "get", "widget", "w", "-n", namespace, check=False)

    assert "widget.example.com/w created" in first.stdout
    assert "widget.example.com/w configured" in second.stdout
    assert found["spec"] == {"size": 2}
    assert found["metadata"]["generation"] == 2
    assert by_label.stdout.split() == ["widget.example.com/w"]
    assert '"w" deleted' in deleted.stdout
    assert after.returncode != 0
    assert "NotFound" in after.stderr


def test_server_side_apply(localkube, widgets, namespace):
    manifest = WIDGET.replace("SIZE", "3")

    applied = kubectl(
        localkube,
        "apply",
        "--server-side",
        "--field-manager",
        "tawa",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=manifest,
    )
    found = json.loads(
        kubectl(
            localkube, "get", "widget", "w", "-n", namespace, "-o", "json", "--show-managed-fields"
        ).stdout
    )

    assert "serverside-applied" in applied.stdout
    assert [m["manager"] for m in found["metadata"]["managedFields"]] == ["tawa"]


def test_typed_objects_travel_as_protobuf(localkube, namespace):
    kubectl(
        localkube,
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        namespace,
        "--from-literal=password=hunter2",
    )
    kubectl(localkube, "create", "configmap", "c", "-n", namespace, "--from-literal=a=1")
    kubectl(localkube, "create", "namespace", f"{namespace}-pb")

    secret = json.loads(
        kubectl(localkube, "get", "secret", "s", "-n", namespace, "-o", "json").stdout
    )
    config_map = json.loads(
        kubectl(localkube, "get", "cm", "c", "-n", namespace, "-o", "json").stdout
    )
    created_namespace = kubectl(localkube, "get", "ns", f"{namespace}-pb", "-o", "name")

    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["type"] == "Opaque"
    assert config_map["data"] == {"a": "1"}
    assert created_namespace.stdout.strip() == f"namespace/{namespace}-pb"


def test_replace_label_patch_and_delete_typed_objects(localkube, namespace):
    kubectl(localkube, "create", "configmap", "c", "-n", namespace, "--from-literal=a=1")
    current = kubectl(localkube, "get", "cm", "c", "-n", namespace, "-o", "json").stdout
    changed = json.loads(current)
    changed["data"] = {"a": "2"}

    kubectl(localkube, "replace", "-f", "-", stdin=json.dumps(changed))
    stale = kubectl(localkube, "replace", "-f", "-", stdin=current, check=False)
    kubectl(localkube, "label", "cm", "c", "-n", namespace, "team=x")
    kubectl(
        localkube,
        "patch",
        "cm",
        "c",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"add","path":"/data/b","value":"3"}]',
    )
    failed_test = kubectl(
        localkube, "patch", "cm", "c", "-n", namespace, "--type=json",
        "-p", '[{"op":"test","path":"/data/a","value":"nope"}]', check=False,
    )  # fmt: skip
    found = json.loads(
        kubectl(localkube, "get", "cm", "-n", namespace, "-l", "team=x", "-o", "json").stdout
    )
    kubectl(localkube, "delete", "cm", "c", "-n", namespace)

    assert stale.returncode != 0
    assert "the object has been modified" in stale.stderr
    assert failed_test.returncode != 0
    assert [item["data"] for item in found["items"]] == [{"a": "2", "b": "3"}]
    assert kubectl(localkube, "get", "cm", "-n", namespace, "-o", "name").stdout == ""


def test_get_prints_the_crd_printer_columns_until_the_crd_is_deleted(localkube, namespace):
    crd = (
        CRD.replace(
            "subresources: {status: {}}",
            "subresources: {status: {}}\n"
            "    additionalPrinterColumns:\n"
            "    - {name: Size, type: integer, jsonPath: .spec.size}\n"
            "    - {name: Phase, type: string, jsonPath: .status.phase}\n"
            "    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}",
        )
        .replace("widgets", "gadgets")
        .replace("Widget", "Gadget")
        .replace("widget", "gadget")
    )
    kubectl(
        localkube, "apply", "-f", "-", stdin=crd.replace("shortNames: [wg]", "shortNames: [gd]")
    )
    gadget = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 3}\n"
    kubectl(localkube, "apply", "-n", namespace, "-f", "-", stdin=gadget)

    printed = kubectl(localkube, "get", "gadgets", "-n", namespace).stdout.splitlines()

    assert printed[0].split() == ["NAME", "SIZE", "PHASE", "AGE"]
    assert printed[1].split()[:2] == ["g", "3"]
    kubectl(localkube, "delete", "crd", "gadgets.example.com")
    gone = kubectl(localkube, "get", "gadgets", "-n", namespace, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr or "doesn't have a resource type" in gone.stderr
