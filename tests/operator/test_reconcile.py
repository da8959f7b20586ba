"""The reconcile core: order, conditions, retry versus give-up, no idle writes."""

from __future__ import annotations

import logging

import kopf
import pytest

from tawa.operator import reconcile
from tawa.operator.step import Outcome
from tests.operator.fakes import SPEC, FakeStep, Writer, make_body

LOG = logging.getLogger("test")


def pipeline(**results: Outcome | BaseException) -> list[FakeStep]:
    steps = [
        FakeStep("gate", "GateChecked"),
        FakeStep("links", ""),
        FakeStep("release", "Released"),
        FakeStep("health", "Healthy"),
    ]
    for step in steps:
        if step.name in results:
            step.result = results[step.name]
    return steps


async def run(body, steps, settings):
    writer = Writer(body)
    await reconcile.ensure(body, steps=steps, settings=settings, writer=writer, logger=LOG)
    return writer


async def test_steps_run_in_order_and_every_condition_lands(settings) -> None:
    body = make_body()
    writer = await run(body, pipeline(), settings)
    assert FakeStep.journal == ["ensure:gate", "ensure:links", "ensure:release", "ensure:health"]
    status = body["status"]
    assert status["phase"] == "Ready"
    assert status["url"] == "https://my-api.sandbox.tawa.insureco.io"
    types = [c["type"] for c in status["conditions"]]
    assert types == ["GateChecked", "Released", "Healthy", "Ready"]
    assert all(c["status"] == "True" for c in status["conditions"])
    assert len(writer.patches) >= 2  # written as the steps land, not only at the end


async def test_an_unchanged_service_costs_no_write(settings) -> None:
    body = make_body()
    await run(body, pipeline(), settings)
    writer = await run(body, pipeline(), settings)
    assert writer.patches == []


@pytest.mark.parametrize(
    ("spec_change", "field"),
    [
        ({"tier": "huge"}, "spec.tier"),
        ({"port": 0}, "spec.port"),
        ({"name": "Not_A_Name"}, "spec.name"),
        ({"name": "other"}, "spec.name"),
    ],
)
async def test_an_invalid_spec_is_permanent_and_names_the_field(
    settings, spec_change, field
) -> None:
    body = make_body({**SPEC, **spec_change})
    body["metadata"]["name"] = "my-api"
    with pytest.raises(kopf.PermanentError, match=field):
        await run(body, pipeline(), settings)
    assert body["status"]["phase"] == "Failed"
    assert FakeStep.journal == []


@pytest.mark.parametrize(
    ("config", "field", "shown"),
    [
        ({"DB_PASSWORD": 12345678}, "spec.config.DB_PASSWORD", None),
        ({"DB_PASSWORD": ["hunter2-secret"]}, "spec.config.DB_PASSWORD", None),
        ({"bad key": "x"}, "spec.config.bad key:", "'bad key'"),
    ],
)
async def test_a_bad_config_entry_names_the_key_never_the_value(
    settings, config, field, shown
) -> None:
    # A config value of the wrong type was shown in the status and the Events.
    body = make_body({**SPEC, "config": config})
    body["metadata"]["name"] = "my-api"
    with pytest.raises(kopf.PermanentError):
        await run(body, pipeline(), settings)

    message = body["status"]["message"]
    assert field in message
    assert "12345678" not in message
    assert "hunter2" not in message
    if shown:
        assert shown in message
    assert FakeStep.journal == []


async def test_a_dependency_not_ready_is_retried_with_the_delay_in_the_condition(settings) -> None:
    waiting = kopf.TemporaryError("The wallet is starting.", delay=12)
    body = make_body()
    with pytest.raises(kopf.TemporaryError):
        await run(body, pipeline(release=waiting), settings)
    assert FakeStep.journal == ["ensure:gate", "ensure:links", "ensure:release"]
    released = next(c for c in body["status"]["conditions"] if c["type"] == "Released")
    assert released["status"] == "False"
    assert released["message"] == "The wallet is starting. Retrying in 12s."
    assert body["status"]["phase"] == "Provisioning"


async def test_a_step_that_is_not_satisfied_stops_the_pipeline(settings) -> None:
    short = Outcome(ok=False, reason="InsufficientReserve", message="Top up 500 gas.")
    body = make_body()
    with pytest.raises(kopf.TemporaryError) as raised:
        await run(body, pipeline(gate=short), settings)
    assert raised.value.delay == settings.retry_delay
    assert FakeStep.journal == ["ensure:gate"]
    gate = body["status"]["conditions"][0]
    assert (gate["type"], gate["status"], gate["reason"]) == (
        "GateChecked",
        "False",
        "InsufficientReserve",
    )


async def test_an_unexpected_error_is_retried_without_leaking_its_text(settings) -> None:
    body = make_body()
    boom = RuntimeError("password=hunter2 in a library message")
    with pytest.raises(kopf.TemporaryError):
        await run(body, pipeline(health=boom), settings)
    healthy = next(c for c in body["status"]["conditions"] if c["type"] == "Healthy")
    assert "RuntimeError" in healthy["message"]
    assert "hunter2" not in str(body["status"])


async def test_a_permanent_step_error_fails_the_service(settings) -> None:
    body = make_body()
    with pytest.raises(kopf.PermanentError):
        await run(body, pipeline(release=kopf.PermanentError("spec.image: not set")), settings)
    assert body["status"]["phase"] == "Failed"
    assert "Change the spec" in body["status"]["message"]


async def test_remove_runs_in_reverse_order(settings) -> None:
    body = make_body()
    writer = Writer(body)
    await reconcile.remove(body, steps=pipeline(), settings=settings, writer=writer, logger=LOG)
    assert FakeStep.journal == ["remove:health", "remove:release", "remove:links", "remove:gate"]
    assert body["status"]["phase"] == "Deleting"


async def test_remove_of_a_never_valid_spec_does_nothing(settings) -> None:
    body = make_body({**SPEC, "tier": "huge"})
    writer = Writer(body)
    await reconcile.remove(body, steps=pipeline(), settings=settings, writer=writer, logger=LOG)
    assert FakeStep.journal == []


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"bad key": "x"}},
        {"tier": "huge"},
        {"routes": [{"path": "/API/x", "gas": True}], "image": "bad image;rm"},
    ],
)
async def test_remove_of_a_provisioned_service_whose_spec_became_invalid_cleans_up(
    settings, change
) -> None:
    # Its release, registry record, OAuth client and database users were left
    # behind: removal saw only "an invalid spec; nothing to remove".
    body = make_body()
    await run(body, pipeline(), settings)
    body["spec"] = {**SPEC, **change}
    FakeStep.journal.clear()

    await reconcile.remove(
        body, steps=pipeline(), settings=settings, writer=Writer(body), logger=LOG
    )

    assert FakeStep.journal == ["remove:health", "remove:release", "remove:links", "remove:gate"]


@pytest.mark.parametrize("change", [{"name": "someone-else"}, {"environment": "weird"}])
async def test_remove_never_guesses_who_the_service_is(settings, change) -> None:
    body = make_body()
    await run(body, pipeline(), settings)
    body["spec"] = {**SPEC, **change}
    FakeStep.journal.clear()

    await reconcile.remove(
        body, steps=pipeline(), settings=settings, writer=Writer(body), logger=LOG
    )

    assert FakeStep.journal == []


@pytest.mark.parametrize(
    ("meta", "status", "due"),
    [
        ({"generation": 2}, {"observedGeneration": 2, "phase": "Ready"}, True),
        ({"generation": 2}, {"observedGeneration": 2, "phase": "Provisioning"}, True),
        ({"generation": 3}, {"observedGeneration": 2, "phase": "Ready"}, False),
        ({"generation": 2}, {"observedGeneration": 2, "phase": "Failed"}, False),
        ({"generation": 2, "deletionTimestamp": "now"}, {"observedGeneration": 2}, False),
    ],
)
def test_drift_is_due_only_for_a_settled_live_service(meta, status, due) -> None:
    assert reconcile.drift_is_due(meta, status) is due


async def test_a_name_held_in_another_namespace_is_refused_and_its_removal_touches_nothing(
    settings, cluster
) -> None:
    holder = make_body(creationTimestamp="2026-01-01T00:00:00Z")
    cluster.services.append(holder)
    intruder = make_body(creationTimestamp="2026-02-01T00:00:00Z")
    intruder["metadata"]["namespace"] = "elsewhere"
    cluster.services.append(intruder)

    with pytest.raises(
        kopf.PermanentError, match="already deployed from namespace 'my-api-sandbox'"
    ):
        await run(intruder, pipeline(), settings)
    assert FakeStep.journal == []
    ready = next(c for c in intruder["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NameTaken"

    writer = Writer(intruder)
    await reconcile.remove(intruder, steps=pipeline(), settings=settings, writer=writer, logger=LOG)
    assert FakeStep.journal == []

    # The holder itself goes ahead.
    await run(holder, pipeline(), settings)
    assert holder["status"]["phase"] == "Ready"
