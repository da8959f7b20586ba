"""The wire contract of the local API, spoken directly over HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.integration

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.fixture
def http(localkube, widgets):
    with httpx.Client(base_url=localkube.url, timeout=10) as http_client:
        yield http_client


@pytest.fixture
def base(namespace) -> str:
    return f"/apis/example.com/v1/namespaces/{namespace}/widgets"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health(http, path):
    assert http.get(path).text == "ok"


def test_version_and_core_discovery(http):
    core = http.get("/api/v1").json()

    assert http.get("/version").json()["major"] == "1"
    assert http.get("/api").json()["versions"] == ["v1"]
    assert core["groupVersion"] == "v1"
    assert {"namespaces", "secrets", "configmaps"} <= {r["name"] for r in core["resources"]}


def test_group_discovery_includes_custom_resources(http):
    groups = {g["name"]: g for g in http.get("/apis").json()["groups"]}
    widgets = http.get("/apis/example.com/v1").json()["resources"]

    assert groups["example.com"]["preferredVersion"]["groupVersion"] == "example.com/v1"
    assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"
    assert {"widgets", "widgets/status"} <= {r["name"] for r in widgets}


def test_aggregated_discovery_for_go_clients(http):
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )

    core = http.get("/api", headers={"Accept": accept})
    groups = http.get("/apis", headers={"Accept": accept}).json()["items"]

    assert core.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    (only,) = core.json()["items"]
    assert only["metadata"]["name"] == ""
    assert only["versions"][0]["version"] == "v1"
    by_name = {group["metadata"]["name"]: group for group in groups}
    resources = by_name["example.com"]["versions"][0]["resources"]
    widgets = next(r for r in resources if r["resource"] == "widgets")
    assert widgets["responseKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert widgets["scope"] == "Namespaced"
    assert [sub["subresource"] for sub in widgets["subresources"]] == ["status"]
    assert [v["version"] for v in by_name["autoscaling"]["versions"]] == ["v2", "v1"]


def test_openapi_documents(http):
    v2 = http.get("/openapi/v2")

    assert v2.content.startswith(b"\x0a\x032.0")
    assert http.get("/openapi/v3").json() == {"paths": {}}


def test_namespace_urls(http, namespace):
    one = http.get(f"/api/v1/namespaces/{namespace}")
    created = http.post("/api/v1/namespaces", json={"metadata": {"name": f"{namespace}-x"}})

    assert one.json()["metadata"]["name"] == namespace
    assert created.status_code == 201
    assert http.get(f"/api/v1/namespaces/{namespace}/status").status_code == 200


def test_unknown_resource_is_404(http):
    assert http.get("/apis/example.com/v1/gadgets").status_code == 404
    assert http.get("/apis/nowhere.io/v1").status_code == 404


def test_create_then_status_codes_of_patches(http, base):
    created = http.post(base, json={"metadata": {"name": "a"}, "spec": {"size": 1}})
    stale = http.patch(f"{base}/a", headers=MERGE, json={"metadata": {"resourceVersion": "1"}})
    failed_test = http.patch(
        f"{base}/a",
        headers=JSON_PATCH,
        json=[{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}],
    )
    unsupported = http.patch(f"{base}/a", headers={"Content-Type": "text/plain"}, content=b"x")

    assert created.status_code == 201
    assert (stale.status_code, stale.json()["reason"]) == (409, "Conflict")
    assert (failed_test.status_code, failed_test.json()["reason"]) == (422, "Invalid")
    assert unsupported.status_code == 415


def test_put_replaces_and_put_on_status_only_changes_status(http, base):
    created = http.post(base, json={"metadata": {"name": "a"}, "spec": {"size": 1}}).json()
    replaced = http.put(f"{base}/a", json={**created, "spec": {"size": 2}}).json()
    status = http.put(
        f"{base}/a/status", json={**replaced, "spec": {"size": 99}, "status": {"phase": "Ready"}}
    ).json()

    assert replaced["spec"] == {"size": 2}
    assert status["spec"] == {"size": 2}
    assert status["status"] == {"phase": "Ready"}
    assert http.put(f"{base}/missing", json=created).status_code == 404


def test_server_side_apply_creates_then_merges_and_forgets_unsent_fields(http, base):
    first = "metadata: {name: a, labels: {app: a}}\nspec: {size: 1, color: red}\n"
    second = "metadata: {name: a}\nspec: {size: 2}\n"

    created = http.patch(f"{base}/a", params={"fieldManager": "tawa"}, headers=APPLY, content=first)
    http.patch(f"{base}/a", headers=MERGE, json={"metadata": {"labels": {"other": "x"}}})
    applied = http.patch(
        f"{base}/a", params={"fieldManager": "tawa"}, headers=APPLY, content=second
    )

    assert created.status_code == 201
    assert applied.status_code == 200
    assert applied.json()["spec"] == {"size": 2}
    assert applied.json()["metadata"]["labels"] == {"other": "x"}
    managers = [entry["manager"] for entry in applied.json()["metadata"]["managedFields"]]
    assert managers == ["tawa"]
    again = http.patch(f"{base}/a", params={"fieldManager": "tawa"}, headers=APPLY, content=second)
    assert (
        again.json()["metadata"]["resourceVersion"] == applied.json()["metadata"]["resourceVersion"]
    )
    assert again.json()["metadata"]["labels"] == {"other": "x"}
    no_manager = http.patch(f"{base}/a", headers=APPLY, content=second)
    assert no_manager.status_code == 400


def test_watch_by_name_with_field_selector(http, base):
    http.post(base, json={"metadata": {"name": "a"}})
    http.post(base, json={"metadata": {"name": "b"}})

    lines = http.get(
        base, params={"watch": "true", "fieldSelector": "metadata.name=b", "timeoutSeconds": "1"}
    ).text.splitlines()

    assert [json.loads(line)["object"]["metadata"]["name"] for line in lines] == ["b"]


def test_deleting_a_crd_unregisters_its_type(http):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.org"},
        "spec": {
            "group": "example.org",
            "scope": "Cluster",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [{"name": "v1beta1", "served": True, "storage": True}],
        },
    }
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

    created = http.post(crds, json=crd).json()
    object_created = http.post("/apis/example.org/v1beta1/gizmos", json={"metadata": {"name": "g"}})
    http.delete(f"{crds}/gizmos.example.org")

    established = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert established["Established"] == "True"
    assert object_created.status_code == 201
    assert http.get("/apis/example.org/v1beta1/gizmos").status_code == 404
    assert "example.org" not in {g["name"] for g in http.get("/apis").json()["groups"]}


def test_delete_collection_by_label(http, base):
    http.post(base, json={"metadata": {"name": "a", "labels": {"drop": "yes"}}})
    http.post(base, json={"metadata": {"name": "b"}})

    http.delete(base, params={"labelSelector": "drop=yes"})

    assert [i["metadata"]["name"] for i in http.get(base).json()["items"]] == ["b"]


def test_deployments_roll_out_at_once_and_their_replica_sets_are_collected(http, namespace):
    base = f"/apis/apps/v1/namespaces/{namespace}"
    template = {
        "metadata": {"labels": {"app": "d"}},
        "spec": {"containers": [{"name": "c", "image": "i:1"}]},
    }
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "d"}}, "template": template}
    http.post(f"{base}/deployments", json={"metadata": {"name": "d"}, "spec": spec})
    template["spec"]["containers"][0]["image"] = "i:2"
    http.patch(f"{base}/deployments/d", headers=MERGE, json={"spec": {"template": template}})

    deployment = http.get(f"{base}/deployments/d").json()
    replica_sets = http.get(f"{base}/replicasets", params={"labelSelector": "app=d"}).json()[
        "items"
    ]
    http.delete(f"{base}/deployments/d")

    conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert conditions["Available"] == "True"
    assert deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"] == 2
    assert deployment["status"]["readyReplicas"] == 2
    assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [0, 2]
    assert http.get(f"{base}/replicasets").json()["items"] == []


def test_services_get_a_stable_cluster_ip(http, namespace):
    services = f"/api/v1/namespaces/{namespace}/services"
    created = http.post(
        services, json={"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    patched = http.patch(f"{services}/s", headers=MERGE, json={"metadata": {"labels": {"a": "b"}}})

    assert created.json()["spec"]["clusterIP"].startswith("10.96.")
    assert patched.json()["spec"]["clusterIP"] == created.json()["spec"]["clusterIP"]


def test_scale_subresource(http, namespace):
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    template = {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": []}}
    spec = {"replicas": 1, "selector": {"matchLabels": {"app": "s"}}, "template": template}
    http.post(base, json={"metadata": {"name": "s"}, "spec": spec})

    scaled = http.patch(f"{base}/s/scale", headers=MERGE, json={"spec": {"replicas": 4}})
    stale = http.put(
        f"{base}/s/scale", json={"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}
    )
    deployment = http.get(f"{base}/s").json()

    assert scaled.json()["kind"] == "Scale"
    assert scaled.json()["status"]["selector"] == "app=s"
    assert deployment["spec"]["replicas"] == 4
    assert deployment["status"]["readyReplicas"] == 4
    assert stale.status_code == 409
    assert http.get(f"/api/v1/namespaces/{namespace}/configmaps/x/scale").status_code == 404
