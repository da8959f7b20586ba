"""The operator's OAuth step against the real identity app (in process, over
HTTP) with the Kubernetes Secrets faked at their boundary; one integration
test runs it against the running service and the local Kubernetes API."""

from __future__ import annotations

import base64
import logging
from types import SimpleNamespace

import httpx
import kopf
import pytest
from pydantic import SecretStr

from tawa.clients.identity import IdentityClient
from tawa.operator.kube_secrets import StoredSecret
from tawa.operator.step import StepContext
from tawa.operator.steps.oauth import OAuthStep
from tawa.resource import TawaServiceSpec
from tests.identity.conftest import INTERNAL_KEY, ISSUER


class FakeSecrets:
    """The namespace's Secrets, as the SecretStore protocol sees them."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StoredSecret] = {}
        self.writes = 0

    async def read(self, namespace, name):
        return self.items.get((namespace, name))

    async def write(self, namespace, name, secret, *, owner):
        self.writes += 1
        self.items[(namespace, name)] = StoredSecret(dict(secret.data), dict(secret.annotations))

    async def delete(self, namespace, name):
        self.items.pop((namespace, name), None)


def _settings(**overrides):
    values = {
        "identity_url": ISSUER,
        "internal_key": SecretStr(INTERNAL_KEY),
        "base_domain": "tawa.example",
        "kubeconfig": None,
    }
    values.update(overrides)
    settings = SimpleNamespace(**values)
    settings.pod_bio_id_url = lambda: "https://bio.tawa.example"
    return settings


def _context(name="board", *, auth="sso", dependencies=(), owner="acme", records=None):
    spec = {
        "name": name,
        "owner": owner,
        "environment": "sandbox",
        "framework": "express",
        "dependencies": list(dependencies),
    }
    if auth:
        spec["auth"] = {"mode": auth}
    logger = logging.getLogger(f"test.oauth.{name}")
    return StepContext(
        name=name,
        namespace=f"{name}-sandbox",
        environment="sandbox",
        spec=TawaServiceSpec.model_validate(spec),
        uid="uid-1",
        generation=1,
        settings=None,
        logger=logger,
    )


@pytest.fixture
def step_for(env):
    """Build a step talking to the in-process identity app."""
    secrets = FakeSecrets()

    def build(**settings):
        transport = httpx.ASGITransport(app=env.http._transport.app)
        identity = IdentityClient(ISSUER, internal_key=INTERNAL_KEY, transport=transport)
        return OAuthStep(_settings(**settings), secrets=secrets, identity=identity)

    build.secrets = secrets
    return build


async def _token(env, data, scope=None):
    body = {
        "grant_type": "client_credentials",
        "client_id": data["BIO_CLIENT_ID"],
        "client_secret": data["BIO_CLIENT_SECRET"],
    }
    if scope:
        body["scope"] = scope
    return await env.http.post("/oauth/token", data=body)


async def test_sso_service_gets_a_client_and_a_secret_whose_credentials_work(env, step_for, caplog):
    caplog.set_level(logging.DEBUG)
    ctx = _context()
    outcome = await step_for().ensure(ctx)
    assert outcome.ok
    assert outcome.changed
    stored = step_for.secrets.items[("board-sandbox", "board-oauth")]
    assert stored.data["BIO_CLIENT_ID"] == "board-sandbox"
    assert stored.data["BIO_ID_URL"] == "https://bio.tawa.example"
    assert ctx.secret_refs == ["board-oauth"]
    assert (await _token(env, stored.data)).status_code == 200

    client = (await env.admin("GET", "/admin/clients/board-sandbox")).json()
    assert client["redirectUris"] == ["https://board.sandbox.tawa.example/api/auth/callback"]
    assert "authorization_code" in client["grantTypes"]
    secret = stored.data["BIO_CLIENT_SECRET"]
    assert secret not in outcome.message
    assert secret not in caplog.text


async def test_a_second_ensure_changes_nothing(env, step_for):
    step = step_for()
    await step.ensure(_context())
    first = dict(step_for.secrets.items[("board-sandbox", "board-oauth")].data)
    outcome = await step.ensure(_context())
    assert not outcome.changed
    assert step_for.secrets.writes == 1
    assert step_for.secrets.items[("board-sandbox", "board-oauth")].data == first
    assert (await _token(env, first)).status_code == 200


async def test_a_lost_secret_is_replaced_by_rotation(env, step_for):
    step = step_for()
    await step.ensure(_context())
    old = dict(step_for.secrets.items.pop(("board-sandbox", "board-oauth")).data)
    outcome = await step.ensure(_context())
    assert outcome.changed
    new = step_for.secrets.items[("board-sandbox", "board-oauth")].data
    assert new["BIO_CLIENT_SECRET"] != old["BIO_CLIENT_SECRET"]
    assert (await _token(env, old)).status_code == 401
    assert (await _token(env, new)).status_code == 200


async def test_service_only_gets_client_credentials_and_no_redirect(env, step_for):
    await step_for().ensure(_context(auth="service-only"))
    client = (await env.admin("GET", "/admin/clients/board-sandbox")).json()
    assert client["redirectUris"] == []
    assert client["grantTypes"] == ["client_credentials"]


async def test_dependencies_request_scope_grants(env, step_for):
    step = step_for()
    await step.ensure(_context("raterspot"))
    await step.ensure(_context("relay", owner="globex"))
    deps = [
        {"service": "raterspot", "scopes": ["raterspot:rate"]},
        {"service": "relay", "scopes": ["relay:send"]},
    ]
    outcome = await step.ensure(_context(dependencies=deps))
    assert "relay:send" in outcome.message
    assert "raterspot:rate" not in outcome.message
    data = step_for.secrets.items[("board-sandbox", "board-oauth")].data
    assert (await _token(env, data, "raterspot:rate")).status_code == 200
    assert (await _token(env, data, "relay:send")).status_code == 400


async def test_removing_auth_removes_the_client_and_secret(env, step_for):
    step = step_for()
    await step.ensure(_context())
    data = dict(step_for.secrets.items[("board-sandbox", "board-oauth")].data)
    outcome = await step.ensure(_context(auth=None))
    assert outcome.reason == "Removed"
    assert step_for.secrets.items == {}
    assert (await _token(env, data)).status_code == 401
    assert (await step.ensure(_context(auth=None))).reason == "NotRequested"


async def test_delete_removes_the_client_and_secret(env, step_for):
    step = step_for()
    await step.ensure(_context())
    data = dict(step_for.secrets.items[("board-sandbox", "board-oauth")].data)
    await step.remove(_context())
    await step.remove(_context())
    assert step_for.secrets.items == {}
    assert (await _token(env, data)).status_code == 401


async def test_not_configured_skips_and_says_so():
    step = OAuthStep(_settings(internal_key=SecretStr("")), secrets=FakeSecrets())
    outcome = await step.ensure(_context())
    assert outcome.ok
    assert outcome.reason == "IdentityNotConfigured"
    await step.remove(_context())


async def test_identity_down_is_a_temporary_error_that_says_why():
    def down(request):
        raise httpx.ConnectError("refused")

    identity = IdentityClient(
        ISSUER, internal_key=INTERNAL_KEY, transport=httpx.MockTransport(down)
    )
    step = OAuthStep(_settings(), secrets=FakeSecrets(), identity=identity)
    with pytest.raises(kopf.TemporaryError) as raised:
        await step.ensure(_context())
    assert "unreachable" in str(raised.value)
    assert raised.value.delay > 0
    assert INTERNAL_KEY not in str(raised.value)


@pytest.mark.integration
async def test_sso_deploy_against_the_running_service_and_local_kubernetes(redis_srv, localkube):
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config

    from tawa.operator.kube_secrets import KubeSecrets
    from tests.harness.identity_server import identity_server

    with identity_server(redis_srv.url, internal_key=INTERNAL_KEY) as server:
        api = kube_config.new_client_from_config(config_file=str(localkube.kubeconfig))
        core = kube_client.CoreV1Api(api)
        namespace = {"metadata": {"name": "board-sandbox"}}
        try:
            core.create_namespace(namespace)
        except kube_client.ApiException as error:
            if error.status != 409:  # another test made it already
                raise
        settings = _settings(identity_url=server.url)
        settings.pod_bio_id_url = lambda: server.url
        step = OAuthStep(settings, secrets=KubeSecrets(api))
        ctx = _context()
        outcome = await step.ensure(ctx)
        assert outcome.ok, outcome.message

        secret = core.read_namespaced_secret("board-oauth", "board-sandbox")
        data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
        answer = httpx.post(
            f"{server.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": data["BIO_CLIENT_ID"],
                "client_secret": data["BIO_CLIENT_SECRET"],
            },
        )
        assert answer.status_code == 200
        assert not (await step.ensure(_context())).changed

        await step.remove(_context())
        with pytest.raises(kube_client.ApiException):
            core.read_namespaced_secret("board-oauth", "board-sandbox")
        assert data["BIO_CLIENT_SECRET"] not in server.log_text()
