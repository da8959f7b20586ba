"""Failure drills: a component fails mid-way, the platform converges.

Each drill deploys its own service, breaks one component while that service
is being reconciled or called, repairs it, and checks that everything
converged with nothing duplicated and nothing lost. The wallet and identity
services keep their state in memory on the dev stack, so "down" for them is
a freeze (SIGSTOP, then SIGCONT): their port still accepts connections and
nothing answers, which clients see as timeouts. A restart would lose their
state and prove nothing about duplicates. The operator is killed with
SIGKILL and Redis is stopped outright: neither holds state that matters.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from tests.e2e.harness import CALLERS, ENVIRONMENT, OWNER, Platform, eventually, write_catalog

pytestmark = pytest.mark.e2e

SHIP_FAILURES = "tawa_gateway_usage_ship_failures_total"


def _route(name: str, *, auth: str, gas: int) -> list[dict]:
    return [{"path": f"/api/{name}/ping", "methods": ["GET"], "auth": auth, "gas": gas}]


def _true(platform: Platform, name: str, condition: str) -> bool:
    return platform.conditions(name).get(condition, {}).get("status") == "True"


def test_operator_killed_mid_reconcile_converges_without_duplicates(platform) -> None:
    name = "drill-kill"
    catalog = write_catalog(
        platform.catalogs, name, auth="service-only", routes=_route(name, auth="required", gas=1)
    )
    started = datetime.now(UTC)

    # Kill 1: during the release, after the gate, databases and OAuth client.
    with platform.helm_stalls_on(name) as reached:
        platform.deploy(catalog, wait=False)
        eventually(reached.exists, what="the release step to start helm", timeout=60)
        platform.kill("operator")
    platform.start("operator")

    # Kill 2: after DNS, while the service waits for its pod (the stand-in is
    # not up yet, so health or smoke tests fail and the reconcile retries).
    eventually(lambda: _true(platform, name, "DNSReady"), what="DNS records", timeout=60)
    assert platform.phase(name) != "Ready"
    platform.kill("operator")
    platform.start("operator")
    stand_in = platform.stand_ins[name]
    stand_in.start(logs=platform.folder / "logs")
    eventually(stand_in.answers, what="the stand-in of drill-kill", timeout=30)
    platform.wait_ready(name)
    time.sleep(5)  # a few hosting ticks (every 2 s) of the restarted operator

    # One OAuth client, and the Secret holds its current secret.
    assert platform.oauth_client(name)["clientId"] == f"{name}-{ENVIRONMENT}"
    credentials = platform.secrets(name)[f"{name}-oauth"]
    assert platform.client_credentials_work(credentials)
    # One address record and one ownership marker.
    records, markers = platform.dns(name)
    assert (len(records), len(markers)) == (1, 1), (records, markers)
    # One release, installed once: the restarts did not upgrade it again.
    assert [(r["name"], r["status"]) for r in platform.releases(name)] == [(name, "deployed")]
    assert platform.revisions(name) == [1]
    assert platform.service(name)["status"]["helmRevision"] == 1
    # One hosting charge per hour, whatever the number of ticks and restarts.
    keys = [e["idempotencyKey"] for e in platform.ledger(OWNER, kind="hosting", service=name)]
    hours = {started, datetime.now(UTC)}  # two only if the drill crossed an hour
    assert keys
    assert len(keys) == len(set(keys))
    assert set(keys) <= {f"hosting:{OWNER}:{name}:{ENVIRONMENT}:{h:%Y%m%d%H}" for h in hours}
    assert platform.wallet_is_consistent(OWNER)

    platform.delete(name)


def test_wallet_down_gate_fails_open_and_usage_is_not_lost(platform) -> None:
    name, calls = "drill-wallet", 5
    catalog = write_catalog(platform.catalogs, name, routes=_route(name, auth="required", gas=1))
    failures = platform.gateway_metric(SHIP_FAILURES)

    with platform.paused("wallet"):
        platform.deploy(catalog)
        gate = platform.conditions(name)["GateChecked"]
        assert (gate["status"], gate["reason"]) == ("True", "WalletUnreachable")
        assert "could not be reached" in gate["message"]
        assert "fails open" in gate["message"]

        for _ in range(calls):
            answer = platform.call(f"/api/{name}/ping", token=platform.token)
            assert answer.status_code == 200, answer.text
        # At least one batch timed out against the frozen wallet and was kept.
        eventually(
            lambda: platform.gateway_metric(SHIP_FAILURES) > failures,
            what="the gateway to fail shipping usage", timeout=20,
        )  # fmt: skip

    def charged() -> list[dict]:
        return platform.ledger(CALLERS, kind="transaction", service=name)

    eventually(lambda: len(charged()) >= calls, what=f"{calls} charges", timeout=30)
    time.sleep(1.5)  # resent batches the wallet already applied must not charge again
    keys = [e["idempotencyKey"] for e in charged()]
    assert len(keys) == len(set(keys)) == calls
    assert platform.wallet_is_consistent(CALLERS)

    platform.delete(name)


def test_identity_down_oauth_step_waits_says_why_and_converges(platform) -> None:
    name = "drill-identity"
    catalog = write_catalog(platform.catalogs, name, auth="service-only")

    with platform.paused("identity"):
        platform.deploy(catalog, wait=False)
        waiting = eventually(
            lambda: _waiting_on_identity(platform.conditions(name).get("OAuthReady")),
            what="OAuthReady to say the identity service is unreachable", timeout=60,
        )  # fmt: skip
        assert re.search(r"retrying in \d+s", waiting["message"], re.IGNORECASE)
        # The pipeline stops at the OAuth step: nothing is released without credentials.
        assert "Released" not in platform.conditions(name)
        assert platform.phase(name) != "Ready"

    platform.wait_ready(name, timeout=90)
    assert platform.conditions(name)["OAuthReady"]["reason"] == "Provisioned"
    assert platform.client_credentials_work(platform.secrets(name)[f"{name}-oauth"])

    platform.delete(name)


def _waiting_on_identity(condition: dict | None) -> dict | None:
    if condition is None or condition["status"] == "True":
        return None
    message = condition["message"]
    says_why = re.search(r"the identity service at \S+ is unreachable", message)
    return condition if says_why and "retrying in" in message else None


def test_redis_restarted_the_gateway_routes_heal(platform) -> None:
    name = "drill-redis"
    catalog = write_catalog(platform.catalogs, name, routes=_route(name, auth="none", gas=0))
    path = f"/api/{name}/ping"

    with platform.stopped("redis"):
        platform.deploy(catalog)
        assert platform.registered(name)
        # The registry's notice went nowhere: the gateway has not heard of the route.
        assert platform.call(path).status_code == 404

    # Back: the gateway re-subscribes and catches up with the registry.
    eventually(lambda: platform.call(path).status_code == 200, what="the route", timeout=20)

    # Restarted again with no write in between, so every client of Redis holds
    # a connection the server closed: the next uses must still go through.
    with platform.stopped("redis"):
        pass
    began = time.monotonic()
    platform.delete(name)  # the operator removes the service's Redis ACL user
    eventually(lambda: platform.call(path).status_code == 404, what="route removed", timeout=10)
    # A failed Redis command would hold the deletion for the step's 30 s retry.
    assert time.monotonic() - began < 20
