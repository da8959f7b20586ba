"""Address overrides for machines where cluster addresses do not resolve.

On the local platform no pod runs: a stand-in process serves a service on a
loopback port. ``TAWA_UPSTREAM_MAP`` maps a cluster address to the stand-in's,
as ``HOST:PORT=HOST:PORT`` pairs separated by commas, e.g.
``hello.hello-sandbox.svc.cluster.local:8000=127.0.0.1:9000``. The operator
applies it where it turns a service into a URL (registration, health probes);
everything else sees ordinary URLs.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from tawa.errors import ConfigurationError


def parse_upstream_map(text: str) -> dict[str, str]:
    """``{"host:port": "host:port"}`` from the ``TAWA_UPSTREAM_MAP`` syntax."""
    mapping: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = entry.partition("=")
        if not sep or not _is_address(source) or not _is_address(target):
            raise ConfigurationError(
                f"TAWA_UPSTREAM_MAP entry {entry!r} must read HOST:PORT=HOST:PORT"
            )
        mapping[source.lower()] = target
    return mapping


def _is_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def upstream_map_from_env() -> dict[str, str]:
    return parse_upstream_map(os.environ.get("TAWA_UPSTREAM_MAP", ""))


def rewrite(url: str, mapping: dict[str, str]) -> str:
    """``url`` with its host and port replaced when the map names them."""
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return url
    target = mapping.get(f"{parts.hostname.lower()}:{parts.port}")
    if target is None:
        return url
    return urlunsplit(parts._replace(netloc=target))
