"""The ``kubernetes`` Python client against the local API: CRUD of custom
objects, error codes, watches with resourceVersion and timeout."""

from __future__ import annotations

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"


def widget(name: str, **labels: str) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name, "labels": labels},
        "spec": {"size": 1},
    }


@pytest.fixture
def objects(api, widgets):
    return client.CustomObjectsApi(api)


def create(objects, namespace: str, body: dict) -> dict:
    return objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def test_create_answers_201_with_server_metadata(objects, namespace):
    data, status, _ = objects.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, namespace, PLURAL, widget("a")
    )

    assert status == 201
    meta = data["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1


def test_resource_versions_grow_and_generation_follows_spec_only(objects, namespace):
    first = create(objects, namespace, widget("a"))
    labelled = objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"x": "y"}}}
    )
    status = objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "a", {"status": {"phase": "Ready"}}
    )
    resized = objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"size": 2}}
    )

    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, labelled, status, resized)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 4
    assert [o["metadata"]["generation"] for o in (labelled, status, resized)] == [1, 1, 2]
    assert status["status"] == {"phase": "Ready"}
    assert resized["status"] == {"phase": "Ready"}


def test_status_is_ignored_on_the_main_endpoint(objects, namespace):
    create(objects, namespace, widget("a"))

    patched = objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"status": {"phase": "Hacked"}}
    )

    assert "status" not in patched


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda o, ns: o.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "missing"), 404),
        (
            lambda o, ns: o.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "missing"),
            404,
        ),
        (lambda o, ns: create(o, ns, widget("a")), 409),
        (lambda o, ns: create(o, ns, {"kind": "Widget", "metadata": {}}), 422),
    ],
    ids=["get-missing", "delete-missing", "create-twice", "no-name"],
)
def test_error_codes(objects, namespace, call, code):
    create(objects, namespace, widget("a"))

    with pytest.raises(ApiException) as error:
        call(objects, namespace)

    assert error.value.status == code


def test_replace_with_a_stale_resource_version_is_a_conflict(objects, namespace):
    created = create(objects, namespace, widget("a"))
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"spec": {"size": 5}}
    )

    with pytest.raises(ApiException) as error:
        objects.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", created)

    assert error.value.status == 409


def test_replace_with_the_current_resource_version_succeeds(objects, namespace):
    created = create(objects, namespace, widget("a"))
    created["spec"] = {"size": 9}

    replaced = objects.replace_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", created
    )

    assert replaced["spec"] == {"size": 9}
    assert replaced["metadata"]["generation"] == 2


def test_list_has_kind_version_and_filters_by_labels(objects, namespace):
    create(objects, namespace, widget("a", tier="nano", team="x"))
    create(objects, namespace, widget("b", tier="small"))
    create(objects, namespace, widget("c"))

    def names(selector: str) -> list[str]:
        listed = objects.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, label_selector=selector
        )
        assert listed["kind"] == "WidgetList"
        assert listed["apiVersion"] == "example.com/v1"
        assert int(listed["metadata"]["resourceVersion"]) > 0
        return [item["metadata"]["name"] for item in listed["items"]]

    assert names("") == ["a", "b", "c"]
    assert names("tier=nano") == ["a"]
    assert names("tier!=nano") == ["b", "c"]
    assert names("tier in (nano, small)") == ["a", "b"]
    assert names("tier notin (nano)") == ["b", "c"]
    assert names("team") == ["a"]
    assert names("!tier") == ["c"]


def test_watch_from_a_resource_version_sends_only_later_changes(objects, namespace):
    create(objects, namespace, widget("old"))
    listed = objects.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    create(objects, namespace, widget("new"))
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "old")

    events = list(
        watch.Watch().stream(
            objects.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=1,
        )
    )

    seen = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert seen == [("ADDED", "new"), ("DELETED", "old")]


def test_watch_without_a_version_starts_with_the_current_objects_and_times_out(objects, namespace):
    create(objects, namespace, widget("a", app="x"))
    create(objects, namespace, widget("b", app="y"))

    events = list(
        watch.Watch().stream(
            objects.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            label_selector="app=x",
            timeout_seconds=1,
        )
    )

    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a")]


def test_namespaced_watch_sees_only_its_namespace(objects, namespace, api):
    other = f"{namespace}-other"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": other}})
    listed = objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    create(objects, other, widget("elsewhere"))
    create(objects, namespace, widget("here"))

    events = list(
        watch.Watch().stream(
            objects.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=1,
        )
    )

    assert [e["object"]["metadata"]["name"] for e in events] == ["here"]


def test_finalizers_hold_deletion_until_removed(objects, namespace):
    body = widget("a")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    create(objects, namespace, body)

    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    held = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"finalizers": None}}
    )

    assert held["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as error:
        objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert error.value.status == 404


def test_core_objects_crud(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("c", namespace, {"data": {"b": "2"}})

    found = core.read_namespaced_config_map("c", namespace)
    listed = core.list_namespaced_config_map(namespace)
    namespaces = [n.metadata.name for n in core.list_namespace().items]

    assert found.data == {"a": "1", "b": "2"}
    assert [c.metadata.name for c in listed.items] == ["c"]
    assert namespace in namespaces
    assert "default" in namespaces
    assert core.read_namespace(namespace).status.phase == "Active"
