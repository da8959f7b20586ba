"""The health step's three sources against the local API: the Deployment's
rollout, an HTTP probe of a real server, and the declared assumption."""

from __future__ import annotations

import asyncio
import http.server
import threading

import kopf
import pytest
from kubernetes import client, config

from tawa.operator.settings import HealthMode, OperatorSettings
from tawa.operator.steps.health import HealthStep
from tawa.operator.steps.release import ReleaseStep
from tests.operator.fakes import HELM, make_context

pytestmark = pytest.mark.integration
NAME = "probed"


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def released(localkube, tmp_path_factory):
    """One service released with the real chart, shared by the tests."""
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    client.CoreV1Api(api).create_namespace({"metadata": {"name": f"{NAME}-sandbox"}})
    settings = OperatorSettings(
        helm=HELM,
        helm_home=tmp_path_factory.mktemp("helm"),
        kubeconfig=str(localkube.kubeconfig),
    )
    asyncio.run(ReleaseStep(settings).ensure(make_context(settings, name=NAME)))
    yield settings
    api.close()


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def step_for(settings: OperatorSettings, **changes) -> HealthStep:
    return HealthStep(settings.model_copy(update={"retry_delay": 3, **changes}))


async def test_deployment_mode_reads_the_rollout(released) -> None:
    outcome = await step_for(released).ensure(make_context(released, name=NAME))
    assert (outcome.ok, outcome.reason) == (True, "RolloutComplete")
    assert "1/1 replicas available" in outcome.message


async def test_assume_mode_says_so(released) -> None:
    step = step_for(released, health_mode=HealthMode.ASSUME)
    outcome = await step.ensure(make_context(released, name=NAME))
    assert outcome.reason == "HealthAssumed"
    assert "TAWA_HEALTH_MODE=assume" in outcome.message


async def test_http_mode_probes_the_health_path(released, server) -> None:
    template = f"http://127.0.0.1:{server}{{path}}"
    step = step_for(released, health_mode=HealthMode.HTTP, health_url_template=template)
    outcome = await step.ensure(make_context(released, name=NAME))
    assert outcome.reason == "HealthCheckPassed"

    wrong = make_context(released, name=NAME, healthPath="/missing")
    with pytest.raises(kopf.TemporaryError, match="answered 404") as raised:
        await step.ensure(wrong)
    assert raised.value.delay == 3


async def test_http_mode_with_nothing_listening_is_temporary(released) -> None:
    step = step_for(
        released, health_mode=HealthMode.HTTP, health_url_template="http://127.0.0.1:9{path}"
    )
    with pytest.raises(kopf.TemporaryError, match="ConnectError"):
        await step.ensure(make_context(released, name=NAME))


async def test_a_missing_deployment_is_waited_for(released) -> None:
    with pytest.raises(kopf.TemporaryError, match="does not exist yet"):
        await step_for(released).ensure(make_context(released, name="never-released"))
