"""kubectl's Table form: JSONPath lookups, ages, rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tawa.localkube import tables

SERVICE = {
    "metadata": {"name": "hello", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"tier": "nano", "replicas": 2},
    "status": {"conditions": [{"type": "Ready", "status": "True"}], "url": None},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.tier", "nano"),
        (".spec.replicas", 2),
        (".status.conditions[0].type", "Ready"),
        ('.status.conditions[?(@.type=="Ready")].status', "True"),
        (".status.conditions[?(@.type=='Synced')].status", None),
        (".status.url", None),
        (".spec.missing.deeper", None),
    ],
)
def test_find(path, expected):
    assert tables.find(SERVICE, path) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (5, "5s"),
        (119, "119s"),
        (330, "5m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_age(seconds, expected):
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp() + seconds
    assert tables.age("2026-01-01T00:00:00Z", now=datetime.fromtimestamp(now, UTC)) == expected


def test_table_rows_carry_cells_and_partial_objects():
    columns = [
        {"name": "Tier", "type": "string", "jsonPath": ".spec.tier"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "URL", "type": "string", "jsonPath": ".status.url"},
    ]

    result = tables.table([SERVICE], columns, include="Metadata", revision=7)

    assert [c["name"] for c in result["columnDefinitions"]] == ["Name", "Tier", "Replicas", "URL"]
    assert result["rows"][0]["cells"] == ["hello", "nano", 2, None]
    assert result["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert "object" not in tables.table([SERVICE], columns, include="None", revision=7)["rows"][0]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", True),
        ("application/json", False),
        ("application/vnd.kubernetes.protobuf, */*", False),
    ],
)
def test_wanted(accept, expected):
    assert tables.wanted(accept) is expected
