"""One platform for the whole end-to-end package, brought up once.

The embedded platform (``tawa dev up``'s processes: Redis, the local
Kubernetes API, wallet, identity, registry, gateway, operator) runs from a
temporary folder, with the Cloudflare fake for DNS, short operator delays, a
funded org that owns the services, and a signed-in user in another org. No
pod runs on the local API, so each service the suite deploys has a stand-in
process on loopback that the operator and gateway reach through
``TAWA_UPSTREAM_MAP``; health is checked over HTTP against it.

Against a real cluster: ``TAWA_E2E_KUBECONFIG=/path/to/kubeconfig``
(``make e2e`` sets it from ``KUBECONFIG``). Then:

- no local API is started; the operator, ``tawa deploy``, kubectl and helm use
  that kubeconfig, whose user may create namespaces, CRDs, Secrets and Helm
  releases (cluster-admin on a kind cluster). The TawaService CRD is applied;
  the platform chart need not be installed (and its operator must not run,
  or two operators reconcile the same services);
- the companion services and the operator still run here as processes on
  loopback, and the gateway still forwards to the local stand-ins (it runs
  outside the cluster and cannot reach Service addresses);
- health mode is ``deployment``: each service is Healthy when its pods are
  available, so ``TAWA_E2E_IMAGE`` must name an image the cluster can pull
  that answers ``GET /health`` with 200 on port 8000 (examples/hello-fastapi
  built with ``tawa build``, or loaded with ``kind load docker-image``);
- namespaces the suite created (``{service}-sandbox``) are left in place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import config

from tawa.cli import _signin, _standins
from tawa.cli._devstack import DevStack
from tawa.cli._standins import StandIn
from tests.e2e.harness import (
    CALLERS,
    ENVIRONMENT,
    EXAMPLE,
    EXAMPLE_OWNER,
    INGRESS,
    OWNER,
    USER,
    ZONE,
    Platform,
    slow_helm_script,
)
from tests.harness.cloudflare_fake import cloudflare_fake
from tests.harness.operator import HELM

SERVICES = ("e2e-portal", "drill-kill", "drill-wallet", "drill-identity", "drill-redis")
"""The services the suite writes catalogs for; each gets a generic stand-in."""
STARTED_LATE = {"drill-kill"}
"""Stand-ins the tests start themselves (the service must look unhealthy first)."""
REAL_CLUSTER = os.environ.get("TAWA_E2E_KUBECONFIG", "")
IMAGE = os.environ.get("TAWA_E2E_IMAGE", "ghcr.io/tawa-examples/hello-fastapi:1.0.0")


def _stand_ins() -> dict[str, StandIn]:
    found = {"hello-fastapi": _standins.with_app("hello-fastapi", 8000, EXAMPLE)}
    found.update({name: StandIn(name, 8000, environment=ENVIRONMENT) for name in SERVICES})
    return found


def _extra_env(cloudflare_url: str, token: str, slow_helm: Path) -> dict[str, dict[str, str]]:
    operator = {
        "TAWA_HELM": str(slow_helm),
        "TAWA_RETRY_DELAY": "2",
        "TAWA_HEALTH_TIMEOUT": "2",
        "TAWA_HOSTING_CHARGE_INTERVAL": "2",
        "TAWA_CLOUDFLARE_API_TOKEN": token,
        "TAWA_CLOUDFLARE_ZONE": ZONE,
        "TAWA_CLOUDFLARE_BASE_URL": cloudflare_url,
        "TAWA_INGRESS_TARGET": INGRESS,
    }
    if REAL_CLUSTER:
        operator["TAWA_HEALTH_MODE"] = "deployment"
    # Routes reach the gateway through Redis notices and re-subscriptions only:
    # the full resync is pushed out of the suite's time, so a healed route proves
    # the re-subscription did it.
    return {"operator": operator, "gateway": {"TAWA_ROUTE_RESYNC_SECONDS": "600"}}


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("e2e")
    stand_ins = _stand_ins()
    slow_helm, armed, reached = slow_helm_script(folder, HELM)
    kubeconfig = Path(REAL_CLUSTER) if REAL_CLUSTER else None
    stack = DevStack(folder / "stack", kubeconfig=kubeconfig)
    with cloudflare_fake() as cloudflare:
        zone_id = cloudflare.add_zone(ZONE)
        try:
            for stand_in in stand_ins.values():
                if stand_in.name not in STARTED_LATE:
                    stand_in.start(logs=folder / "logs")
            _standins.wait_answering(stand_ins.values(), timeout=30)
            state = stack.up(
                upstream_map=_standins.upstream_map(stand_ins.values()),
                extra_env=_extra_env(cloudflare.base_url, cloudflare.token, slow_helm),
            )
            kube = config.new_client_from_config(config_file=state.kubeconfig)
            platform = Platform(
                stack=stack, state=state, cloudflare=cloudflare, zone_id=zone_id, folder=folder,
                image=IMAGE, helm=HELM, slow_helm_armed=armed, slow_helm_reached=reached,
                stand_ins=stand_ins, kube=kube,
            )  # fmt: skip
            platform.token = _open_accounts(platform)
            yield platform
            kube.close()
        finally:
            stack.down()
            _standins.stop(stand_ins.values())


def _open_accounts(platform: Platform) -> str:
    """The orgs, their funded wallets and a signed-in user; the user's access token."""
    password = secrets.token_urlsafe(18)
    for org in (OWNER, CALLERS, EXAMPLE_OWNER):
        answer = platform.admin("POST", "identity", "/admin/orgs", json={"slug": org, "name": org})
        assert answer.status_code == 200, answer.text
        _fund(platform, org)
    member = {"email": USER, "password": password, "role": "developer"}
    answer = platform.admin("POST", "identity", f"/admin/orgs/{CALLERS}/members", json=member)
    assert answer.status_code == 200, answer.text
    return _signin.sign_in(
        platform.url("identity"), internal_key=platform.state.internal_key, org=CALLERS,
        email=USER, password=password,
    )  # fmt: skip


def _fund(platform: Platform, org: str) -> None:
    """Purchased tokens: calls through the gateway cannot be paid with intro tokens."""
    # The identity service ensures the wallet too; whoever comes second is a no-op.
    answer = platform.admin("POST", "wallet", "/v1/wallets", json={"org": org})
    assert answer.status_code in (200, 201), answer.text
    credit = {"amount": 200_000, "tokenType": "purchased", "reason": "e2e funding",
              "idempotencyKey": f"e2e-funding-{org}"}  # fmt: skip
    answer = platform.admin("POST", "wallet", f"/v1/wallets/wallet-{org}/credits", json=credit)
    assert answer.status_code == 201, answer.text
