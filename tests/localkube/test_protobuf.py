"""The protobuf reader, on bodies encoded the way Go clients encode them."""

from __future__ import annotations

import base64

import pytest

from tawa.localkube import protobuf
from tawa.localkube.errors import BadRequest, UnsupportedMediaType


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def number(number_: int, value: int) -> bytes:
    return varint(number_ << 3) + varint(value)


def entry(key: str, value: bytes | str) -> bytes:
    return field(1, key) + field(2, value)


def envelope(kind: str, raw: bytes) -> bytes:
    type_meta = field(1, "v1") + field(2, kind)
    return (
        protobuf.MAGIC
        + field(1, type_meta)
        + field(2, raw)
        + field(4, "application/vnd.kubernetes.protobuf")
    )


METADATA = (
    field(1, "db")
    + field(2, "")
    + field(3, "shop")
    + field(11, entry("app", "shop"))
    + field(11, entry("tier", "nano"))
    + field(14, "tawa.insureco.io/cleanup")
    + field(8, number(1, 1_767_225_600))
)


def test_secret():
    raw = (
        field(1, METADATA)
        + field(2, entry("password", b"\x00s3cret"))
        + field(3, "Opaque")
        + number(5, 1)
    )

    assert protobuf.decode(envelope("Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "labels": {"app": "shop", "tier": "nano"},
            "finalizers": ["tawa.insureco.io/cleanup"],
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "data": {"password": base64.b64encode(b"\x00s3cret").decode()},
        "type": "Opaque",
        "immutable": True,
    }


def test_config_map_and_namespace():
    config_map = field(1, field(1, "c")) + field(2, entry("a", "1")) + field(2, entry("b", ""))
    namespace = field(1, field(1, "shop")) + field(2, field(1, "kubernetes"))

    assert protobuf.decode(envelope("ConfigMap", config_map))["data"] == {"a": "1", "b": ""}
    assert protobuf.decode(envelope("Namespace", namespace)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop"},
        "spec": {"finalizers": ["kubernetes"]},
    }


def test_delete_options_with_negative_and_unknown_fields():
    raw = (
        number(1, (1 << 64) - 1)
        + field(2, field(2, "42"))
        + field(4, "Background")
        + field(5, "All")
        + field(99, "ignored")
    )

    assert protobuf.decode(envelope("DeleteOptions", raw)) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": -1,
        "preconditions": {"resourceVersion": "42"},
        "propagationPolicy": "Background",
        "dryRun": ["All"],
    }


def test_other_kinds_are_415():
    with pytest.raises(UnsupportedMediaType):
        protobuf.decode(envelope("Deployment", field(1, field(1, "d"))))


@pytest.mark.parametrize(
    "body",
    [b"{}", protobuf.MAGIC + b"\x0a\xff", protobuf.MAGIC + b"\x0b"],
    ids=["no-magic", "truncated", "group-wire-type"],
)
def test_malformed_bodies_are_400(body):
    with pytest.raises(BadRequest):
        protobuf.decode(body)
