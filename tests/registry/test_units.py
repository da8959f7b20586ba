"""Flag evaluation and the change log, without a server (unit)."""

from __future__ import annotations

import pytest

from tawa.registry.changes import ChangeLog
from tawa.registry.errors import HistoryGone
from tawa.registry.flags import bucket, evaluate
from tawa.store import mongo_client

SUBJECTS = [f"user-{i}" for i in range(4000)]


def _on(flag: dict, subjects: list[str], name: str = "checkout") -> set[str]:
    return {s for s in subjects if evaluate(flag, name=name, org=None, subject=s)[0]}


def test_buckets_are_stable_and_spread() -> None:
    assert [bucket("f", s) for s in SUBJECTS[:50]] == [bucket("f", s) for s in SUBJECTS[:50]]
    assert all(0 <= bucket("f", s) < 10_000 for s in SUBJECTS)


@pytest.mark.parametrize("percentage", [1, 10, 25, 50, 90])
def test_percentage_rollout_selects_about_that_share(percentage: float) -> None:
    flag = {"enabled": True, "percentage": percentage, "orgs": {}}
    share = len(_on(flag, SUBJECTS)) / len(SUBJECTS) * 100
    assert abs(share - percentage) < 2.5


def test_growing_the_percentage_keeps_everyone_already_in() -> None:
    small = _on({"enabled": True, "percentage": 10, "orgs": {}}, SUBJECTS)
    large = _on({"enabled": True, "percentage": 30, "orgs": {}}, SUBJECTS)
    assert small < large


def test_two_flags_at_the_same_percentage_pick_different_subjects() -> None:
    flag = {"enabled": True, "percentage": 20, "orgs": {}}
    assert _on(flag, SUBJECTS, "one") != _on(flag, SUBJECTS, "two")


@pytest.mark.parametrize(
    ("flag", "org", "subject", "expected"),
    [
        (None, "acme", "u", (False, "unknown_flag")),
        ({"enabled": False, "percentage": 100, "orgs": {}}, "acme", "u", (False, "disabled")),
        ({"enabled": False, "percentage": 0, "orgs": {"acme": True}}, "acme", None,
         (True, "org_override")),
        ({"enabled": True, "percentage": 100, "orgs": {"acme": False}}, "acme", "u",
         (False, "org_override")),
        ({"enabled": True, "percentage": 100, "orgs": {}}, None, None, (True, "enabled")),
        ({"enabled": True, "percentage": 50, "orgs": {}}, None, None, (False, "no_subject")),
        ({"enabled": True, "percentage": 0, "orgs": {}}, "acme", "u", (False, "rollout_out")),
    ],
)  # fmt: skip
def test_evaluation_order(flag, org, subject, expected) -> None:
    assert evaluate(flag, name="f", org=org, subject=subject) == expected


@pytest.fixture
def log() -> ChangeLog:
    return ChangeLog(mongo_client("memory://")["t"], retention=3, prune_every=1)


def _write(log: ChangeLog, count: int) -> None:
    for _ in range(count):
        version = log.next_version()
        log.append(version, kind="service", op="upsert", service="s", environment="sandbox")


def test_changes_since_a_retained_version(log: ChangeLog) -> None:
    _write(log, 5)
    version, changes = log.since(2, kind="service")
    assert version == 5
    assert [c["version"] for c in changes] == [3, 4, 5]
    assert log.since(5) == (5, [])


@pytest.mark.parametrize("since", [0, 1])
def test_pruned_history_is_gone(log: ChangeLog, since: int) -> None:
    _write(log, 5)
    with pytest.raises(HistoryGone, match="reload"):
        log.since(since)


def test_a_version_ahead_of_the_registry_is_gone(log: ChangeLog) -> None:
    _write(log, 2)
    with pytest.raises(HistoryGone, match="ahead"):
        log.since(9)


def test_changes_filter_by_kind(log: ChangeLog) -> None:
    _write(log, 1)
    log.append(log.next_version(), kind="config", op="upsert", service="s", environment="sandbox")
    version, changes = log.since(0, kind="service")
    assert version == 2
    assert [c["kind"] for c in changes] == ["service"]


def _claims_db():
    from types import SimpleNamespace

    return SimpleNamespace(db=mongo_client("memory://")["t"])


@pytest.mark.parametrize(
    ("age", "routed", "holder"),
    [
        (3600, False, None),  # an old orphan is taken over
        (1, False, "ghost"),  # a young one may be a write in flight
        (3600, True, "ghost"),  # a claim its service routes is never taken
    ],
)
def test_left_over_claims_are_taken_over_only_when_safe(age, routed, holder) -> None:
    from datetime import UTC, datetime, timedelta

    from tawa.registry.services import _take

    registry = _claims_db()
    key = "sandbox GET /api/x"
    at = datetime.now(UTC) - timedelta(seconds=age)
    registry.db["claims"].insert_one({"_id": key, "service": "ghost", "claimedAt": at})
    if routed:
        routes = [{"path": "/api/x", "methods": ["GET"]}]
        registry.db["services"].insert_one({"_id": "sandbox/ghost", "routes": routes})
    assert _take(registry, key, environment="sandbox", name="me") == holder
    expected = "me" if holder is None else "ghost"
    assert registry.db["claims"].find_one({"_id": key})["service"] == expected
