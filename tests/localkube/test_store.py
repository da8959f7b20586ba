"""The store and watch streams, in process (no server)."""

from __future__ import annotations

import asyncio

import pytest

from tawa.localkube import watch
from tawa.localkube.errors import AlreadyExists, Conflict, NotFound
from tawa.localkube.objects import Kind
from tawa.localkube.selectors import Filter, LabelSelector
from tawa.localkube.store import Store

WIDGETS = Kind("example.com", "v1", "widgets", "Widget", namespaced=True, has_status=True)
CONFIG_MAPS = Kind("", "v1", "configmaps", "ConfigMap", namespaced=True)


def widget(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}, "spec": {"size": 1}}


def test_create_assigns_server_metadata_and_its_namespace():
    store = Store()

    created = store.create(WIDGETS, "shop", widget("a"), dry_run=False)

    assert created["apiVersion"] == "example.com/v1"
    assert created["kind"] == "Widget"
    assert created["metadata"]["namespace"] == "shop"
    assert store.exists(Kind("", "v1", "namespaces", "Namespace", namespaced=False), None, "shop")
    with pytest.raises(AlreadyExists):
        store.create(WIDGETS, "shop", widget("a"), dry_run=False)


def test_update_keeps_server_fields_and_checks_the_version():
    store = Store()
    created = store.create(WIDGETS, "ns", widget("a"), dry_run=False)
    proposal = {**widget("a"), "status": {"x": 1}}
    proposal["metadata"]["uid"] = "forged"

    updated = store.update(WIDGETS, created, proposal)

    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert "status" not in updated  # the status subresource owns it
    assert updated["metadata"]["generation"] == 1
    assert updated == created  # nothing changed: no new version
    stale = {**widget("a"), "metadata": {"name": "a", "resourceVersion": "0"}}
    with pytest.raises(Conflict):
        store.update(WIDGETS, created, stale)


def test_deletion_waits_for_finalizers():
    store = Store()
    body = widget("a")
    body["metadata"]["finalizers"] = ["x"]
    store.create(WIDGETS, "ns", body, dry_run=False)

    marked = store.delete(WIDGETS, "ns", "a")
    again = store.delete(WIDGETS, "ns", "a")
    released = store.update(
        WIDGETS, marked, {**marked, "metadata": {**marked["metadata"], "finalizers": []}}
    )

    assert marked["metadata"]["deletionTimestamp"]
    assert again == marked
    assert "deletionTimestamp" in released["metadata"]
    with pytest.raises(NotFound):
        store.get(WIDGETS, "ns", "a")


def test_preconditions_on_delete():
    store = Store()
    store.create(CONFIG_MAPS, "ns", {"metadata": {"name": "c"}}, dry_run=False)

    with pytest.raises(Conflict):
        store.delete(CONFIG_MAPS, "ns", "c", preconditions={"uid": "other"})


def test_deleting_a_namespace_deletes_its_objects_behind_finalizers():
    store = Store()
    namespaces = Kind("", "v1", "namespaces", "Namespace", namespaced=False, has_status=True)
    store.create(CONFIG_MAPS, "gone", {"metadata": {"name": "c"}}, dry_run=False)
    kept = widget("w")
    kept["metadata"]["finalizers"] = ["x"]
    store.create(WIDGETS, "gone", kept, dry_run=False)

    store.delete(namespaces, None, "gone")

    assert not store.exists(CONFIG_MAPS, "gone", "c")
    assert store.get(WIDGETS, "gone", "w")["metadata"]["deletionTimestamp"]


async def collect(store: Store, request: watch.WatchRequest) -> list[tuple[str, str]]:
    events = [event async for event in watch.stream(store, request)]
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_watch_translates_selector_changes():
    store = Store()
    created = store.create(WIDGETS, "ns", widget("a", app="x"), dry_run=False)
    since = str(store.revision)
    relabelled = store.update(
        WIDGETS, created, {**created, "metadata": {"name": "a", "labels": {}}}
    )
    store.update(
        WIDGETS, relabelled, {**relabelled, "metadata": {"name": "a", "labels": {"app": "x"}}}
    )

    request = watch.WatchRequest(
        WIDGETS, Filter(labels=LabelSelector.parse("app=x")), since=since, timeout=0
    )

    assert await collect(store, request) == [("DELETED", "a"), ("ADDED", "a")]


async def test_watch_from_an_evicted_version_is_410():
    store = Store(history=2)
    for index in range(6):
        store.create(CONFIG_MAPS, "ns", {"metadata": {"name": f"c{index}"}}, dry_run=False)

    events = [
        e async for e in watch.stream(store, watch.WatchRequest(CONFIG_MAPS, Filter(), since="1"))
    ]

    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410


async def test_watch_follows_live_changes_and_ends_on_close():
    store = Store()
    request = watch.WatchRequest(WIDGETS, Filter(namespace="ns"), since=str(store.revision))
    seen: list[str] = []

    async def follow():
        async for event in watch.stream(store, request):
            seen.append(event["object"]["metadata"]["name"])

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    store.create(WIDGETS, "other", widget("elsewhere"), dry_run=False)
    store.create(WIDGETS, "ns", widget("here"), dry_run=False)
    await asyncio.sleep(0.01)
    store.close()
    await asyncio.wait_for(task, timeout=1)

    assert seen == ["here"]


async def test_initial_events_end_with_a_bookmark():
    store = Store()
    store.create(WIDGETS, "ns", widget("a"), dry_run=False)
    request = watch.WatchRequest(WIDGETS, Filter(), since="", timeout=0, initial_events=True)

    events = [e async for e in watch.stream(store, request)]

    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_create_drops_status_when_the_status_subresource_owns_it():
    store = Store()
    body = {**widget("a"), "status": {"phase": "Forged"}}

    created = store.create(WIDGETS, "ns", body, dry_run=False)
    plain = store.create(
        CONFIG_MAPS, "ns", {"metadata": {"name": "c"}, "status": {}}, dry_run=False
    )

    assert "status" not in created
    assert plain["status"] == {}


def test_objects_go_with_their_last_owner():
    store = Store()
    first = store.create(WIDGETS, "ns", widget("first"), dry_run=False)
    second = store.create(WIDGETS, "ns", widget("second"), dry_run=False)

    def owned(name: str, *owners: dict) -> None:
        refs = [
            {"kind": "Widget", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}
            for o in owners
        ]
        store.create(
            CONFIG_MAPS, "ns", {"metadata": {"name": name, "ownerReferences": refs}}, dry_run=False
        )

    owned("only-first", first)
    owned("both", first, second)
    store.delete(WIDGETS, "ns", "first")

    assert not store.exists(CONFIG_MAPS, "ns", "only-first")
    remaining = store.get(CONFIG_MAPS, "ns", "both")["metadata"]["ownerReferences"]
    assert [ref["name"] for ref in remaining] == ["second"]
    store.delete(WIDGETS, "ns", "second")
    assert not store.exists(CONFIG_MAPS, "ns", "both")
