"""Status bookkeeping: conditions, Ready, and writing only on a difference."""

from __future__ import annotations

from datetime import UTC, datetime

from tawa.operator.conditions import StatusBook
from tawa.operator.step import Outcome

OK = Outcome(ok=True, reason="Released", message="Release my-api is at revision 1.")


def test_a_first_run_has_changes_and_a_second_identical_run_has_none() -> None:
    book = StatusBook({}, generation=1)
    book.provisioning()
    book.record("Released", OK)
    assert book.finish(["Released"]) is True
    stored = book.changes()
    assert stored is not None
    assert stored["phase"] == "Ready"
    assert stored["observedGeneration"] == 1

    again = StatusBook(stored, generation=1)
    again.provisioning()
    again.record("Released", OK)
    again.finish(["Released"])
    assert again.changes() is None


def test_transition_time_moves_only_when_the_status_does() -> None:
    earlier = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    stored = {
        "conditions": [
            {"type": "Released", "status": "True", "reason": "Released", "message": "old words",
             "lastTransitionTime": earlier, "observedGeneration": 1},
        ]
    }  # fmt: skip
    book = StatusBook(stored, generation=2)
    book.record("Released", OK)
    same = book.dump()["conditions"][0]
    assert same["lastTransitionTime"].startswith("2026-01-01")
    assert same["message"] == OK.message

    book.waiting("Released", reason="Waiting", message="helm failed.")
    flipped = book.dump()["conditions"][0]
    assert not flipped["lastTransitionTime"].startswith("2026-01-01")
    assert flipped["status"] == "False"


def test_ready_is_false_and_names_what_is_pending() -> None:
    book = StatusBook({}, generation=1)
    book.record("Released", OK)
    book.record("Healthy", Outcome(ok=False, reason="Rollout", message="0/1 available."))
    assert book.finish(["Released", "Healthy"]) is False
    status = book.dump()
    assert status["phase"] == "Provisioning"
    assert status["conditions"][-1]["type"] == "Ready"
    assert status["conditions"][-1]["message"] == "Waiting for Healthy."


def test_a_permanent_failure_sets_phase_failed_and_ready_false() -> None:
    book = StatusBook({}, generation=3)
    book.failed(None, reason="InvalidSpec", message="spec.tier: bad")
    status = book.dump()
    assert status["phase"] == "Failed"
    assert [c["type"] for c in status["conditions"]] == ["Ready"]
    assert status["conditions"][0]["observedGeneration"] == 3


def test_a_new_generation_goes_back_to_provisioning() -> None:
    book = StatusBook({"phase": "Ready", "observedGeneration": 1}, generation=2)
    book.provisioning()
    assert book.dump()["phase"] == "Provisioning"
    assert book.dump()["observedGeneration"] == 2
