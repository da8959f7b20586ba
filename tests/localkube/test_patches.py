"""Merge, strategic merge, JSON patch and server-side apply on plain values."""

from __future__ import annotations

import pytest

from tawa.localkube import patches
from tawa.localkube.errors import Invalid


def test_merge_patch_merges_dicts_removes_nulls_and_replaces_lists():
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}

    result = patches.merge_patch(target, {"a": {"b": None, "d": 3}, "l": [3], "x": None})

    assert result == {"a": {"c": 2, "d": 3}, "l": [3]}
    assert target == {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}


def test_strategic_merge_merges_named_lists_by_key():
    target = {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}]}]}
    patch = {
        "containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "s:1"},
        ],
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
    }

    result = patches.strategic_merge(target, patch)

    assert result == {
        "containers": [
            {
                "name": "app",
                "image": "a:2",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "sidecar", "image": "s:1"},
        ]
    }


def test_strategic_merge_deletes_items_and_replaces_plain_lists():
    target = {"ports": [{"containerPort": 80}, {"containerPort": 81}], "args": ["a"]}
    patch = {"ports": [{"containerPort": 81, "$patch": "delete"}], "args": ["b"]}

    assert patches.strategic_merge(target, patch) == {
        "ports": [{"containerPort": 80}],
        "args": ["b"],
    }


def test_json_patch_operations():
    target = {"metadata": {"finalizers": ["a"], "resourceVersion": "5"}, "spec": {"x": 1}}
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "5"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
        {"op": "replace", "path": "/spec/x", "value": 2},
        {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
        {"op": "move", "from": "/spec/y", "path": "/spec/z"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "1"}},
        {"op": "remove", "path": "/metadata/labels/a~0b~1c"},
    ]

    result = patches.json_patch(target, operations)

    assert result == {
        "metadata": {"finalizers": ["b"], "resourceVersion": "5", "labels": {}},
        "spec": {"x": 2, "z": 2},
    }


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "4"},
        {"op": "remove", "path": "/spec/missing"},
        {"op": "replace", "path": "/spec/missing", "value": 1},
        {"op": "add", "path": "/metadata/finalizers/7", "value": "x"},
    ],
    ids=["test-fails", "remove-missing", "replace-missing", "index-out-of-range"],
)
def test_failed_json_patch_is_invalid(operation):
    target = {"metadata": {"finalizers": [], "resourceVersion": "5"}, "spec": {}}

    with pytest.raises(Invalid):
        patches.json_patch(target, [operation])


def test_server_side_apply_drops_fields_the_manager_no_longer_sends():
    first = {"spec": {"tier": "nano", "routes": [{"path": "/a"}], "port": 80}}
    live = {**first, "metadata": {"finalizers": ["operator"]}, "status": {"phase": "Ready"}}
    second = {"spec": {"tier": "small", "routes": [{"path": "/b"}]}}

    result = patches.server_side_apply(live, second, previous=patches.fields_v1(first))

    assert result == {
        "spec": {"tier": "small", "routes": [{"path": "/b"}]},
        "metadata": {"finalizers": ["operator"]},
        "status": {"phase": "Ready"},
    }


def test_fields_v1_shape():
    assert patches.fields_v1({"spec": {"a": 1, "l": [1]}, "metadata": {"labels": {"x": "y"}}}) == {
        "f:spec": {"f:a": {}, "f:l": {}},
        "f:metadata": {"f:labels": {"f:x": {}}},
    }


def test_server_side_apply_keeps_what_other_managers_own():
    live = {
        "metadata": {"name": "a", "labels": {"other": "x"}, "finalizers": ["op"]},
        "spec": {"a": 1},
    }
    applied = {"metadata": {"name": "a"}, "spec": {"a": 1}}
    # An entry written by an older version of this code: ``metadata`` as a leaf.
    previous = {"f:metadata": {}, "f:spec": {"f:a": {}}}

    assert patches.server_side_apply(live, applied, previous=previous) == live
    assert patches.fields_v1({"metadata": {}, "spec": {"a": 1}}) == {"f:spec": {"f:a": {}}}


def test_server_side_apply_replaces_lists_as_a_whole():
    live = {
        "spec": {"databases": [{"name": "a", "type": "mongodb"}, {"name": "b", "type": "redis"}]}
    }
    applied = {"spec": {"databases": [{"name": "a", "type": "mongodb"}]}}

    result = patches.server_side_apply(live, applied, previous=patches.fields_v1(live))

    assert result == applied
