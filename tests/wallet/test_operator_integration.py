"""Issue 4's operator acceptance with real processes: local Kubernetes API, the
wallet, the operator and the ``tawa`` CLI.

A service whose org lacks the reserve stays undeployed with an actionable
``GateChecked`` condition; after ``tawa wallet buy`` it deploys on its own;
the hosting timer, ticking every second, charges the hour once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config

from tawa.resource import GROUP, PLURAL, VERSION, ObjectMeta, TawaService, TawaServiceSpec
from tests.harness.operator import operator_process
from tests.harness.wallet_server import WalletServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NAME, NAMESPACE = "quotes", "quotes-sandbox"


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["kubectl", *args], env=env, input=stdin, text=True, check=True, capture_output=True
    )


def condition(api: Any, type_: str) -> dict[str, Any] | None:
    body = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME
    )
    found = [c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == type_]
    return found[0] if found else None


def deployed(api: Any) -> bool:
    try:
        client.AppsV1Api(api).read_namespaced_deployment(NAME, NAMESPACE)
    except client.ApiException:
        return False
    return True


def test_a_short_reserve_holds_the_deploy_until_tokens_are_bought(
    localkube: Any, wallet_srv: WalletServer, org: str, tmp_path: Path
) -> None:
    env = localkube.env
    kubectl(env, "apply", "-f", str(ROOT / "crds" / "tawaservices.yaml"))
    kubectl(env, "create", "namespace", NAMESPACE)
    spec = TawaServiceSpec(
        name=NAME,
        owner=org,
        environment="sandbox",
        framework="fastapi",
        tier="xlarge",
        image="ghcr.io/demo/quotes:1.0",
        health_path="/health",
    )
    manifest = TawaService(metadata=ObjectMeta(name=NAME, namespace=NAMESPACE), spec=spec)
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    settings = {
        "TAWA_WALLET_URL": wallet_srv.url,
        "TAWA_INTERNAL_KEY": wallet_srv.internal_key,
        "TAWA_DISABLED_STEPS": "config,registration,smoke",
        "TAWA_GATE_RETRY_DELAY": "1",
        "TAWA_HOSTING_CHARGE_INTERVAL": "1",
    }
    started = time.time()
    try:
        with operator_process(env, workdir=tmp_path / "op", **settings) as operator:
            kubectl(env, "apply", "-f", "-", stdin=yaml.safe_dump(manifest.manifest()))

            # Short by 131,770 tokens (xlarge: 181,770 for three months; 50,000 intro).
            gate = eventually(
                lambda: (c := condition(api, "GateChecked")) and c["status"] == "False" and c,
                what="the gate to refuse",
            )
            assert "131,770 tokens are missing" in gate["message"], operator.log()
            assert f"tawa wallet buy 131770 --org {org}" in gate["message"]
            time.sleep(3)  # a few more gate retries: still nothing deployed
            assert not deployed(api)

            bought = subprocess.run(
                [sys.executable, "-m", "tawa.cli.main", "wallet", "buy", "131770", "--org", org],
                env=env
                | {"TAWA_WALLET_URL": wallet_srv.url, "TAWA_INTERNAL_KEY": wallet_srv.internal_key},
                capture_output=True,
                text=True,
                check=True,
            )
            assert "Recorded 131,770 purchased tokens" in bought.stdout

            eventually(
                lambda: (c := condition(api, "GateChecked")) and c["status"] == "True",
                what="the gate to admit the service",
            )
            eventually(lambda: deployed(api), what="the Deployment", timeout=90)
            eventually(
                lambda: (c := condition(api, "Released")) and c["status"] == "True",
                what="the release",
                timeout=90,
            )
            time.sleep(4)  # several hosting ticks
    finally:
        api.close()

    # Ticks every second, yet one charge per hour that the run touched.
    headers = wallet_srv.headers
    page = httpx.get(
        f"{wallet_srv.url}/v1/wallets/wallet-{org}/ledger?kind=hosting", headers=headers
    ).json()
    hours = {time.strftime("%Y%m%d%H", time.gmtime(t)) for t in (started, time.time())}
    keys = sorted(e["idempotencyKey"] for e in page["entries"])
    assert keys
    assert len(keys) <= len(hours)
    assert all(k.startswith(f"hosting:{org}:{NAME}:sandbox:") for k in keys)
    assert all(e["amount"] == 83 for e in page["entries"])
