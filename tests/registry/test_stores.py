"""Config values, feature flags, domain bindings and scope grants, over HTTP
against the running registry."""

from __future__ import annotations

import httpx
import pytest

from tests.registry.conftest import service_body

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-never-logged"


def test_config_set_get_list_unset(api, registry, unique) -> None:
    name = unique("cfg")
    base = f"/v1/config/sandbox/{name}"
    answer = api.put(base, json={"values": {"API_TOKEN": SECRET, "MODE": "fast"}})
    assert answer.status_code == 200
    assert answer.json()["keys"] == ["API_TOKEN", "MODE"]
    assert SECRET not in answer.text
    assert api.put(base + "/MODE", json={"value": "slow"}).status_code == 200

    assert api.get(base).json()["values"] == {"API_TOKEN": SECRET, "MODE": "slow"}
    assert api.get(base + "/API_TOKEN").json() == {"key": "API_TOKEN", "value": SECRET}
    assert api.get(f"/v1/config/prod/{name}").json()["values"] == {}

    assert api.delete(base + "/MODE").status_code == 200
    assert api.get(base + "/MODE").status_code == 404
    assert api.delete(base + "/MODE").status_code == 404
    assert api.delete(base).status_code == 200
    assert api.get(base).json()["values"] == {}
    assert SECRET not in registry.logs()


def test_config_changes_name_keys_but_never_values(api, unique) -> None:
    name = unique("cfg")
    before = api.get("/v1/routes").json()["version"]
    api.put(f"/v1/config/sandbox/{name}", json={"values": {"DB_PASSWORD": SECRET}})
    # Config changes take a version but stay out of the route changes.
    after = api.get("/v1/routes/changes", params={"since": before}).json()
    assert after["version"] > before
    assert all(c["service"] != name for c in after["changes"])


@pytest.mark.parametrize(
    "body",
    [{"values": {"1BAD": "x"}}, {"values": {"BAD-KEY": "x"}}, {"values": {"K": "x" * 70000}}],
)
def test_bad_config_is_refused(api, body) -> None:
    assert api.put("/v1/config/sandbox/svc", json=body).status_code == 422


def test_flags_put_evaluate_delete(api, registry, unique) -> None:
    name = unique("flag")
    body = {"enabled": True, "percentage": 50, "orgs": {"beta-org": True, "shy-org": False}}
    assert api.put(f"/v1/flags/{name}", json=body).status_code == 200
    assert api.get(f"/v1/flags/{name}").json()["percentage"] == 50

    with httpx.Client(base_url=registry.url) as anyone:  # no internal key

        def on(**who: str) -> bool:
            answer = anyone.post(f"/v1/flags/{name}/evaluate", json=who)
            assert answer.status_code == 200
            return answer.json()["enabled"]

        assert on(org="beta-org") is True
        assert on(org="shy-org", subject="anyone") is False
        picks = [on(subject=f"user-{i}") for i in range(200)]
        assert picks == [on(subject=f"user-{i}") for i in range(200)]
        assert 60 < sum(picks) < 140
        assert api.delete(f"/v1/flags/{name}").status_code == 200
        assert on(org="beta-org") is False
    assert (
        api.put(f"/v1/flags/{name}", json={"enabled": True, "percentage": 101}).status_code == 422
    )


def test_domains_bind_conflict_and_unbind(api, unique) -> None:
    service, other = unique("web"), unique("web")
    domain = f"{service}.Example.COM"
    created = api.post("/v1/domains", json={"domain": domain, "service": service})
    assert created.status_code == 201
    assert created.json()["domain"] == domain.lower()
    again = api.post("/v1/domains", json={"domain": domain.lower(), "service": service})
    assert again.status_code == 200

    taken = api.post("/v1/domains", json={"domain": domain, "service": other})
    assert taken.status_code == 409
    assert service in taken.json()["error"]["message"]
    elsewhere = {"domain": domain, "service": service, "environment": "prod"}
    assert api.post("/v1/domains", json=elsewhere).status_code == 409

    listed = api.get("/v1/domains", params={"service": service}).json()["domains"]
    assert [d["domain"] for d in listed] == [domain.lower()]
    assert api.delete(f"/v1/domains/{domain}").status_code == 200
    assert api.get(f"/v1/domains/{domain}").status_code == 404
    assert api.post("/v1/domains", json={"domain": domain, "service": other}).status_code == 201


@pytest.mark.parametrize(
    "domain", ["not a domain", "localhost", "10.1.2.3", "x.tawa.insureco.io", "tawa.insureco.io"]
)
def test_bad_domains_are_refused(api, domain) -> None:
    answer = api.post("/v1/domains", json={"domain": domain, "service": "web"})
    assert answer.status_code == 422
    assert "domain" in answer.text


def _owner(api, name, *, org, consumers) -> None:
    scopes = [{"resource": "mongodb", "database": "shared-data", "allowedConsumers": consumers}]
    body = service_body(owner=org, metadata={"scopes": scopes})
    assert api.put(f"/v1/services/sandbox/{name}", json=body).status_code == 200


def test_grant_within_one_org_is_approved_at_once(api, unique) -> None:
    owner, consumer = unique("owner"), unique("reader")
    _owner(api, owner, org="acme", consumers=[{"service": consumer, "access": "readOnly"}])
    api.put(f"/v1/services/sandbox/{consumer}", json=service_body(owner="acme"))
    body = {"owner": owner, "consumer": consumer, "resource": "mongodb", "access": "readOnly"}

    grant = api.post("/v1/grants", json=body)
    assert grant.status_code == 201
    assert grant.json()["status"] == "approved"
    assert grant.json()["database"] == "shared-data"
    assert api.post("/v1/grants", json=body).json()["id"] == grant.json()["id"]


def test_grant_across_orgs_waits_for_approval_then_revoke(api, unique) -> None:
    owner, consumer = unique("owner"), unique("reader")
    _owner(api, owner, org="acme", consumers=[{"service": consumer, "access": "readWrite"}])
    api.put(f"/v1/services/sandbox/{consumer}", json=service_body(owner="other-org"))
    body = {"owner": owner, "consumer": consumer, "resource": "mongodb", "access": "readWrite"}

    pending = api.post("/v1/grants", json=body).json()
    assert pending["status"] == "pending"
    listed = api.get("/v1/grants", params={"consumer": consumer, "status": "pending"}).json()
    assert [g["id"] for g in listed["grants"]] == [pending["id"]]

    approved = api.post(f"/v1/grants/{pending['id']}/approve", json={"approvedBy": "admin@acme"})
    assert approved.json()["status"] == "approved"
    revoked = api.post(f"/v1/grants/{pending['id']}/revoke").json()
    assert revoked["status"] == "revoked"
    assert api.post(f"/v1/grants/{pending['id']}/approve").status_code == 422
    assert api.post("/v1/grants", json=body).json()["status"] == "pending"


@pytest.mark.parametrize(
    ("listed", "access", "says"),
    [
        ([], "readOnly", "not in the allowedConsumers"),
        ([{"service": "CONSUMER", "access": "readOnly"}], "readWrite", "only readOnly"),
    ],
)
def test_grants_the_owner_does_not_offer_are_refused(api, unique, listed, access, says) -> None:
    owner, consumer = unique("owner"), unique("reader")
    offered = [{**c, "service": consumer} for c in listed]
    _owner(api, owner, org="acme", consumers=offered)
    body = {"owner": owner, "consumer": consumer, "resource": "mongodb", "access": access}
    answer = api.post("/v1/grants", json=body)
    assert answer.status_code == 403
    assert says in answer.json()["error"]["message"]


def test_a_grant_from_an_unregistered_owner_is_not_found(api, unique) -> None:
    body = {"owner": unique("ghost"), "consumer": "x", "resource": "redis", "access": "readOnly"}
    assert api.post("/v1/grants", json=body).status_code == 404
