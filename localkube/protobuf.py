"""A minimal reader of Kubernetes protobuf bodies, and the one document we
write in protobuf (the OpenAPI v2 index).

Go clients send built-in objects as ``application/vnd.kubernetes.protobuf``:
the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message whose
``typeMeta`` names the kind and whose ``raw`` field holds the object. We
decode the kinds kubectl and Helm send that way (Secret, ConfigMap,
Namespace, DeleteOptions) with field tables taken from the Kubernetes
``generated.proto`` files; other kinds get a 415 so the client can retry in
JSON. Unknown fields are skipped, as protobuf readers do.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tawa.localkube.errors import BadRequest, UnsupportedMediaType

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# A field is (json name, type); a type is a scalar name, a nested table,
# ("map", key type, value type) or ("repeated", type).
Field = tuple[str, Any]
Table = dict[int, Field]

_TIME = "time"
_TYPE_META: Table = {1: ("apiVersion", "string"), 2: ("kind", "string")}
_UNKNOWN: Table = {1: ("typeMeta", _TYPE_META), 2: ("raw", "raw")}
_OWNER_REFERENCE: Table = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Table = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", _TIME),
    9: ("deletionTimestamp", _TIME),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "string", "string")),
    12: ("annotations", ("map", "string", "string")),
    13: ("ownerReferences", ("repeated", _OWNER_REFERENCE)),
    14: ("finalizers", ("repeated", "string")),
}
_KINDS: dict[str, Table] = {
    "Secret": {
        1: ("metadata", _OBJECT_META),
        2: ("data", ("map", "string", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string", "string")),
        5: ("immutable", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", _OBJECT_META),
        2: ("data", ("map", "string", "string")),
        3: ("binaryData", ("map", "string", "bytes")),
        4: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {1: ("finalizers", ("repeated", "string"))}),
        3: ("status", {1: ("phase", "string")}),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", ("repeated", "string")),
    },
}


def decode(body: bytes) -> dict[str, Any]:
    """Decode an enveloped object into its JSON form."""
    if not body.startswith(MAGIC):
        raise BadRequest("the protobuf body does not start with the Kubernetes magic bytes")
    envelope = _message(body[len(MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    kind = type_meta.get("kind", "")
    table = _KINDS.get(kind)
    if table is None:
        raise UnsupportedMediaType(f"protobuf bodies of kind {kind!r} are not supported; send JSON")
    obj = _message(envelope.get("raw", b""), table)
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise BadRequest("truncated protobuf body (varint)")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field number, value)``; varints as ints, the rest as bytes."""
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise BadRequest("truncated protobuf body (length-delimited field)")
            yield number, data[position : position + length]
            position += length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            yield number, data[position : position + size]
            position += size
        else:
            raise BadRequest(f"unsupported protobuf wire type {wire_type}")


def _message(data: bytes, table: Table) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, raw in _fields(data):
        if number not in table:
            continue
        name, kind = table[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            key, value = _map_entry(raw, kind[1], kind[2])
            result.setdefault(name, {})[key] = value
        elif isinstance(kind, tuple) and kind[0] == "repeated":
            result.setdefault(name, []).append(_scalar(raw, kind[1]))
        else:
            value = _scalar(raw, kind)
            if value != "":  # Go writes empty strings; the JSON form omits them
                result[name] = value
    return result


def _map_entry(raw: int | bytes, key_kind: str, value_kind: str) -> tuple[Any, Any]:
    entry = _message(_bytes(raw), {1: ("key", key_kind), 2: ("value", value_kind)})
    return entry.get("key", ""), entry.get("value", _scalar(b"", value_kind))


def _scalar(raw: int | bytes, kind: Any) -> Any:
    if isinstance(kind, dict):
        return _message(_bytes(raw), kind)
    if kind == "string":
        return _bytes(raw).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(_bytes(raw)).decode("ascii")
    if kind == "raw":
        return _bytes(raw)
    if kind == "bool":
        return bool(raw)
    if kind == "int":
        number = int(raw) if isinstance(raw, int) else 0
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == _TIME:
        seconds = _message(_bytes(raw), {1: ("seconds", "int")}).get("seconds", 0)
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError(f"unknown protobuf field type {kind!r}")


def _bytes(raw: int | bytes) -> bytes:
    if isinstance(raw, int):
        raise BadRequest("malformed protobuf body: a message field holds a number")
    return raw


# Writing: just enough for the OpenAPI v2 document (gnostic's Document).


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def openapi_v2_document(title: str) -> bytes:
    """An OpenAPI v2 ``Document`` with ``swagger``, ``info`` and no
    definitions: clients that validate against it find no schema for any
    kind and skip client-side validation, as for CRDs without a schema."""
    return _length_delimited(1, b"2.0") + _length_delimited(2, _length_delimited(1, title.encode()))
