"""Service records, the route table, versions and conflicts, over HTTP against
the running registry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.registry.conftest import service_body

pytestmark = pytest.mark.integration


def _put(api, service, env="sandbox", **body):
    return api.put(f"/v1/services/{env}/{service}", json=service_body(**body))


def test_upsert_get_list_delete(api, unique) -> None:
    name = unique("svc")
    routes = [{"path": f"/api/{name}/items/", "methods": ["get", "POST"], "gas": 2}]
    created = _put(api, name, routes=routes, healthPath="/health", tier="small")
    assert created.status_code == 200, created.text
    record = created.json()
    assert record["changed"] is True
    assert record["routes"] == [
        {"path": f"/api/{name}/items", "methods": ["GET", "POST"], "auth": "required", "gas": 2}
    ]

    fetched = api.get(f"/v1/services/sandbox/{name}").json()
    assert fetched["version"] == record["version"]
    assert fetched["healthPath"] == "/health"
    listed = api.get("/v1/services", params={"environment": "sandbox", "owner": "acme"}).json()
    assert name in [s["name"] for s in listed["services"]]

    deleted = api.delete(f"/v1/services/sandbox/{name}")
    assert deleted.status_code == 200
    assert deleted.json()["version"] > record["version"]
    assert api.get(f"/v1/services/sandbox/{name}").status_code == 404
    assert api.delete(f"/v1/services/sandbox/{name}").status_code == 404


def test_an_unchanged_record_keeps_its_version(api, unique) -> None:
    name = unique("svc")
    first = _put(api, name, routes=[{"path": f"/api/{name}"}]).json()
    again = _put(api, name, routes=[{"path": f"/api/{name}/"}]).json()
    assert again["changed"] is False
    assert again["version"] == first["version"]


def test_versions_strictly_increase_and_changes_follow_them(api, unique) -> None:
    name = unique("svc")
    start = api.get("/v1/routes").json()["version"]
    versions = [
        _put(api, name, routes=[{"path": f"/api/{name}/v{i}"}]).json()["version"] for i in range(4)
    ]
    versions.append(api.delete(f"/v1/services/sandbox/{name}").json()["version"])
    assert versions == sorted(set(versions))
    assert versions[0] > start

    answer = api.get("/v1/routes/changes", params={"since": versions[1]}).json()
    mine = [c for c in answer["changes"] if c["service"] == name]
    assert [c["version"] for c in mine] == versions[2:]
    assert [c["op"] for c in mine] == ["upsert", "upsert", "delete"]
    assert mine[0]["routes"][0]["path"] == f"/api/{name}/v2"
    assert mine[0]["upstream"].startswith("http://")
    assert answer["version"] >= versions[-1]


def test_changes_since_a_version_the_registry_never_had_is_gone(api) -> None:
    current = api.get("/v1/routes").json()["version"]
    answer = api.get("/v1/routes/changes", params={"since": current + 1000})
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "history_gone"


def test_route_table_rows(api, unique) -> None:
    name = unique("svc")
    _put(api, name, env="uat", routes=[{"path": f"/api/{name}", "auth": "none"}])
    table = api.get("/v1/routes", params={"environment": "uat"}).json()
    rows = [r for r in table["routes"] if r["service"] == name]
    assert rows == [
        {
            "service": name,
            "environment": "uat",
            "owner": "acme",
            "upstream": "http://svc.svc-sandbox.svc.cluster.local:3000",
            "path": f"/api/{name}",
            "methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            "auth": "none",
            "gas": 0,
        }
    ]
    others = api.get("/v1/routes", params={"environment": "prod"}).json()["routes"]
    assert name not in [r["service"] for r in others]


def test_a_conflicting_route_is_refused_naming_the_holder(api, unique) -> None:
    first, second = unique("one"), unique("two")
    path = f"/api/{first}/shared"
    assert _put(api, first, routes=[{"path": path, "methods": ["GET"]}]).status_code == 200

    refused = _put(api, second, routes=[{"path": "/api/" + second}, {"path": path + "/"}])
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "route_conflict"
    assert error["details"] == {"method": "GET", "path": path, "service": first}
    assert first in error["message"]
    # Nothing of the refused record was kept, not even its free route.
    assert api.get(f"/v1/services/sandbox/{second}").status_code == 404
    assert _put(api, unique("three"), routes=[{"path": "/api/" + second}]).status_code == 200


def test_disjoint_methods_and_other_environments_share_a_path(api, unique) -> None:
    first, second = unique("one"), unique("two")
    path = f"/api/{first}/split"
    assert _put(api, first, routes=[{"path": path, "methods": ["GET"]}]).status_code == 200
    assert _put(api, second, routes=[{"path": path, "methods": ["POST"]}]).status_code == 200
    assert _put(api, second, env="prod", routes=[{"path": path}]).status_code == 200
    assert _put(api, second, routes=[{"path": path, "methods": ["GET"]}]).status_code == 409


def test_a_deleted_or_moved_route_is_free_again(api, unique) -> None:
    first, second = unique("one"), unique("two")
    path = f"/api/{first}/moving"
    _put(api, first, routes=[{"path": path}])
    _put(api, first, routes=[{"path": path + "-elsewhere"}])
    assert _put(api, second, routes=[{"path": path}]).status_code == 200
    api.delete(f"/v1/services/sandbox/{second}")
    assert _put(api, first, routes=[{"path": path}]).status_code == 200


@pytest.mark.parametrize(
    ("route", "field", "says"),
    [
        ({"path": "/api/../admin"}, "routes.0.path", "'..' segment"),
        ({"path": "/api/%2e%2e/admin"}, "routes.0.path", "percent-encoding"),
        ({"path": "/api//admin"}, "routes.0.path", "'//'"),
        ({"path": "/API/Admin"}, "routes.0.path", "lowercase"),
        ({"path": "/api/x", "methods": []}, "routes.0.methods", "must not be empty"),
        ({"path": "/api/x", "methods": ["BREW"]}, "routes.0.methods", "BREW"),
        ({"path": "/api/x", "auth": "maybe"}, "routes.0.auth", ""),
        ({"path": "/api/x", "gas": -1}, "routes.0.gas", ""),
        ({"path": "/api/x", "gas": True}, "routes.0.gas", "valid integer"),
        ({"path": "/api/x", "gas": 1.0}, "routes.0.gas", "valid integer"),
    ],
)
def test_bad_routes_are_refused_naming_field_and_value(api, unique, route, field, says) -> None:
    answer = _put(api, unique("bad"), routes=[route])
    assert answer.status_code == 422
    problems = answer.json()["error"]["details"]["problems"]
    assert problems[0]["field"] == field
    assert says in problems[0]["message"]


def test_a_route_listed_twice_is_refused(api, unique) -> None:
    routes = [{"path": "/api/dup", "methods": ["GET"]}, {"path": "/api/dup/", "methods": ["get"]}]
    answer = _put(api, unique("dup"), routes=routes)
    assert answer.status_code == 422
    assert "both claim GET /api/dup" in answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"owner": "Acme Corp"}, "owner"),
        ({"upstream": "http://user:pw@x:1"}, "upstream"),
        ({"metadata": {"$where": "1"}}, "metadata"),
        ({"tier": "huge"}, "tier"),
        ({"name": "someone-else"}, None),
    ],
)
def test_bad_records_are_refused(api, unique, body, field) -> None:
    answer = _put(api, unique("bad"), **body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    if field is not None:
        assert error["details"]["problems"][0]["field"] == field
    assert "pw" not in answer.text


def test_bad_names_and_environments_in_the_path(api) -> None:
    assert api.put("/v1/services/staging/x", json=service_body()).status_code == 422
    assert api.put("/v1/services/sandbox/Bad_Name", json=service_body()).status_code == 422


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_every_endpoint_but_evaluate_needs_the_internal_key(registry, key) -> None:
    headers = {"X-Internal-Key": key} if key else {}
    with httpx.Client(base_url=registry.url, headers=headers) as client:
        for method, path in [
            ("GET", "/v1/routes"),
            ("GET", "/v1/routes/changes?since=0"),
            ("GET", "/v1/services"),
            ("PUT", "/v1/services/sandbox/x"),
            ("GET", "/v1/config/sandbox/x"),
            ("GET", "/v1/flags"),
            ("GET", "/v1/domains"),
            ("GET", "/v1/grants"),
        ]:
            answer = client.request(method, path, json=service_body())
            assert answer.status_code == 401, (method, path)
        assert client.post("/v1/flags/x/evaluate", json={}).status_code == 200


def test_racing_claims_for_one_route_leave_exactly_one_holder(api, registry, unique) -> None:
    path = "/api/" + unique("race")
    names = [unique("racer") for _ in range(8)]

    def claim(name: str) -> httpx.Response:
        with httpx.Client(base_url=registry.url, headers=registry.headers) as client:
            body = service_body(routes=[{"path": path, "methods": ["GET"]}])
            return client.put(f"/v1/services/sandbox/{name}", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(claim, names))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    winner = names[[a.status_code for a in answers].index(200)]
    rows = [r for r in api.get("/v1/routes").json()["routes"] if r["path"] == path]
    assert [r["service"] for r in rows] == [winner]


def test_readiness_and_metrics(registry) -> None:
    assert httpx.get(registry.url + "/readyz").json() == {"status": "ready"}
    assert "registry_changes_published_total" in httpx.get(registry.url + "/metrics").text
