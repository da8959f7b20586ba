"""Rules for the strings the registry stores and the gateway routes by.

Route paths are prefixes matched on segment boundaries (``/api/a`` serves
``/api/a`` and ``/api/a/b``, never ``/api/ab``); the longest prefix wins. So
that the gateway can compare a request path with a route without guessing, a
stored route path is already canonical: one leading slash, no trailing slash,
lowercase ASCII from a small alphabet, no empty, ``.`` or ``..`` segment, no
percent-encoding, no segment ending in a dot. Anything else is refused with a
message that shows the value and how to fix it; nothing is silently rewritten
except a trailing slash.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_PATH_LENGTH = 512
MAX_SEGMENTS = 32
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def route_path(value: str) -> str:
    """The canonical form of a route path, or ``ValueError`` saying what is wrong."""
    if not value.startswith("/"):
        raise ValueError(f"route path {value!r} must start with '/'")
    if len(value) > MAX_PATH_LENGTH:
        raise ValueError(f"route path is {len(value)} characters long; the limit is 512")
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"route path {value!r} must be printable ASCII")
    if "%" in value:
        raise ValueError(f"route path {value!r} must not contain percent-encoding")
    if value.endswith("/*") or "*" in value:
        raise ValueError(f"route path {value!r}: paths are prefixes, drop the '*'")
    if value == "/":
        return value
    # One trailing slash is noise; a second one is an empty segment, refused below.
    trimmed = value[:-1] if value.endswith("/") else value
    if trimmed == "/":
        raise ValueError(f"route path {value!r} must not contain '//'")
    segments = trimmed[1:].split("/")
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"route path {value!r} has more than {MAX_SEGMENTS} segments")
    for segment in segments:
        _check_segment(value, segment)
    if trimmed != trimmed.lower():
        raise ValueError(f"route path {value!r} must be lowercase, e.g. {trimmed.lower()!r}")
    return trimmed


def _check_segment(value: str, segment: str) -> None:
    if segment == "":
        raise ValueError(f"route path {value!r} must not contain '//'")
    if segment in (".", ".."):
        raise ValueError(f"route path {value!r} must not contain a '{segment}' segment")
    if segment.endswith("."):
        raise ValueError(f"route path {value!r}: segment {segment!r} must not end with '.'")
    if not _SEGMENT.match(segment):
        raise ValueError(
            f"route path {value!r}: segment {segment!r} may only use letters, digits and '-._~'"
        )


def methods(values: list[str] | None) -> list[str]:
    """Upper-cased, de-duplicated methods in a fixed order; ``None`` means all of them."""
    if values is None:
        return list(METHODS)
    if not values:
        raise ValueError("methods must not be empty; leave it out to allow every method")
    upper = {value.upper() for value in values}
    unknown = sorted(upper - set(METHODS))
    if unknown:
        raise ValueError(f"unknown HTTP method(s) {unknown}; use any of {list(METHODS)}")
    return [method for method in METHODS if method in upper]


def health_path(value: str) -> str:
    if not value.startswith("/") or len(value) > MAX_PATH_LENGTH:
        raise ValueError(f"health path {value!r} must start with '/' and be at most 512 long")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"health path {value!r} must be printable ASCII without spaces")
    return value


def upstream(value: str) -> str:
    """An ``http(s)://host[:port][/path]`` base URL without credentials or query."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"upstream {value!r} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"upstream {value!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("upstream must not carry credentials (user:password@)")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream {value!r} must not have a query or fragment")
    if port == 0:
        raise ValueError(f"upstream {value!r} has port 0")
    return value.rstrip("/")


def hostname(value: str) -> str:
    """A lowercase DNS name of two labels or more, not an IP address."""
    name = value.strip().lower()
    if name.endswith("."):
        raise ValueError(f"domain {value!r} must not end with '.'")
    if not name.isascii():
        raise ValueError(f"domain {value!r} must be ASCII; use its punycode (xn--) form")
    if len(name) > 253:
        raise ValueError("domain is longer than 253 characters")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ValueError(f"domain {value!r} is an IP address; bind a DNS name")
    labels = name.split(".")
    if len(labels) < 2:
        raise ValueError(f"domain {value!r} needs at least two labels, e.g. 'api.example.com'")
    for label in labels:
        if not _HOST_LABEL.match(label):
            raise ValueError(
                f"domain {value!r}: label {label!r} must be 1-63 of a-z, 0-9 and '-', "
                "not starting or ending with '-'"
            )
    if labels[-1].isdigit():
        raise ValueError(f"domain {value!r} has a numeric top-level label")
    return name
