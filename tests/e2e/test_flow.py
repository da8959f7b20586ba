"""The demo's story as assertions: deploy, sign in, call, pay, delete.

Two services go out with ``tawa deploy``: the hello-fastapi example as it is
(its own app plays the pod) and ``e2e-portal``, a service with SSO. The tests
run in file order on the services the first one deployed; the last one deletes
them and checks that nothing is left anywhere.
"""

from __future__ import annotations

import time

import pytest

from tawa.resource import hostname_for
from tests.e2e.harness import (
    CALLERS,
    ENVIRONMENT,
    EXAMPLE,
    EXAMPLE_OWNER,
    INGRESS,
    ZONE,
    Platform,
    eventually,
    write_catalog,
)

pytestmark = pytest.mark.e2e

HELLO, PORTAL = "hello-fastapi", "e2e-portal"
CONDITIONS = {"GateChecked", "Built", "DatabasesReady", "OAuthReady", "Released", "Registered",
              "DNSReady", "Healthy", "SmokeTested", "Ready"}  # fmt: skip


@pytest.fixture(scope="module")
def deployed(platform: Platform) -> Platform:
    portal = write_catalog(
        platform.catalogs, PORTAL, auth="sso",
        routes=[{"path": f"/api/{PORTAL}", "methods": ["GET"], "auth": "optional", "gas": 0}],
    )  # fmt: skip
    platform.deploy(EXAMPLE, portal)
    return platform


@pytest.mark.parametrize("name", [HELLO, PORTAL])
def test_a_deployed_service_is_ready_with_every_condition_true(deployed, name) -> None:
    found = deployed.service(name)
    status = found["status"]
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == found["metadata"]["generation"]
    assert status["url"] == f"https://{hostname_for(name, ENVIRONMENT, ZONE)}"
    conditions = deployed.conditions(name)
    assert set(conditions) == CONDITIONS
    assert [t for t, c in conditions.items() if c["status"] != "True"] == []
    assert conditions["DNSReady"]["reason"] == "Provisioned"


def test_a_service_with_auth_gets_its_oauth_client_and_secret(deployed) -> None:
    client_id = f"{PORTAL}-{ENVIRONMENT}"
    credentials = deployed.secrets(PORTAL)[f"{PORTAL}-oauth"]
    assert credentials["BIO_CLIENT_ID"] == client_id
    assert credentials["BIO_ID_URL"] == deployed.url("identity")
    assert deployed.client_credentials_work(credentials)

    client = deployed.oauth_client(PORTAL)
    host = hostname_for(PORTAL, ENVIRONMENT, ZONE)
    assert client["redirectUris"] == [f"https://{host}/api/auth/callback"]
    assert "authorization_code" in client["grantTypes"]


def test_a_service_without_auth_gets_no_oauth_client(deployed) -> None:
    assert f"{HELLO}-oauth" not in deployed.secrets(HELLO)
    assert deployed.oauth_client(HELLO) is None
    assert deployed.conditions(HELLO)["OAuthReady"]["reason"] == "NotRequested"


@pytest.mark.parametrize("name", [HELLO, PORTAL])
def test_the_hostname_points_at_the_ingress_under_an_ownership_marker(deployed, name) -> None:
    records, markers = deployed.dns(name)
    assert [(r["type"], r["content"]) for r in records] == [("CNAME", INGRESS)]
    owner = f'"tawa-owner={name}-{ENVIRONMENT}/{name}"'
    assert [(m["type"], m["content"]) for m in markers] == [("TXT", owner)]


def test_the_gateway_serves_the_routes_and_charges_once_per_2xx(deployed) -> None:
    token, me = deployed.token, f"/api/{HELLO}/me"

    # Three signed-in calls of the 2-gas route: the caller's org pays.
    for _ in range(3):
        answer = deployed.call(me, token=token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["org"] == CALLERS
    # The 1-gas route has auth none: the token is not looked at, the owner pays.
    assert deployed.call(f"/api/{HELLO}/hello", token=token).status_code == 200

    # Refused or missing, at the gateway or at the service: never charged.
    assert deployed.call(me).status_code == 401
    assert deployed.call(me, token=token[:-4] + "AAAA").status_code == 401
    assert deployed.call(f"/api/{HELLO}/nowhere", token=token).status_code == 404
    assert deployed.call(f"/api/{HELLO}/hello/nowhere", token=token).status_code == 404

    def charged() -> list[tuple[str, int]]:
        found = [*deployed.ledger(CALLERS, kind="transaction", service=HELLO),
                 *deployed.ledger(EXAMPLE_OWNER, kind="transaction", service=HELLO)]  # fmt: skip
        return sorted((e["walletId"], e["amount"]) for e in found)

    eventually(lambda: len(charged()) >= 4, what="four charges in the wallets", timeout=30)
    time.sleep(1.5)  # several flushes of the gateway's usage buffer: nothing more may come
    expected = [(f"wallet-{CALLERS}", 2)] * 3 + [(f"wallet-{EXAMPLE_OWNER}", 1)]
    assert charged() == sorted(expected)


def test_deleting_leaves_nothing_behind(deployed) -> None:
    deployed.delete(HELLO, PORTAL)
    for name in (HELLO, PORTAL):
        assert deployed.service(name) is None
        assert deployed.releases(name) == []
        assert deployed.secrets(name) == {}
        assert not deployed.registered(name)
        assert deployed.dns(name) == ([], [])
        assert deployed.oauth_client(name) is None
    table = deployed.admin("GET", "registry", "/v1/routes", params={"environment": ENVIRONMENT})
    assert {r["service"] for r in table.json()["routes"]} & {HELLO, PORTAL} == set()
    gone = eventually(
        lambda: deployed.call(f"/api/{HELLO}/hello").status_code == 404,
        what="the gateway to drop the deleted route", timeout=10,
    )  # fmt: skip
    assert gone
