"""The in-memory route table and longest-prefix matching.

A route's ``path`` is a prefix on segment boundaries: ``/api/x`` serves
``/api/x`` and ``/api/x/y``, never ``/api/xy``. Among the routes whose prefix
covers the request path, the longest one that allows the method wins; ``HEAD``
is allowed wherever ``GET`` is. A route with no methods allows every method.

The table is replaced wholesale (:meth:`RouteTable.replace`) or per service
(:meth:`RouteTable.put_service`, :meth:`RouteTable.drop_service`); readers see
either the old or the new index, never half of one, because the index is
rebuilt aside and swapped in one assignment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tawa.gateway.paths import BadPath, normalise

log = logging.getLogger(__name__)

AUTH_MODES = ("required", "optional", "none")


@dataclass(frozen=True, slots=True)
class Route:
    service: str
    environment: str
    owner: str
    upstream: str
    path: str
    methods: frozenset[str]
    auth: str
    gas: int

    def allows(self, method: str) -> bool:
        if not self.methods or method in self.methods:
            return True
        return method == "HEAD" and "GET" in self.methods


@dataclass(frozen=True, slots=True)
class Match:
    route: Route | None
    """The route that serves the request; None when nothing does."""
    path_is_known: bool
    """Some route covers the path, though maybe not for this method (405 vs 404)."""


def route_from_record(record: Mapping[str, Any]) -> Route | None:
    """A :class:`Route` from a registry record, or None (logged) if it is malformed."""
    try:
        path = normalise(str(record["path"]).encode("ascii")).rstrip("/") or "/"
        auth = str(record.get("auth") or "required")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
        return Route(
            service=str(record["service"]),
            environment=str(record.get("environment", "")),
            owner=str(record.get("owner", "")),
            upstream=str(record["upstream"]).rstrip("/"),
            path=path,
            methods=frozenset(str(m).upper() for m in record.get("methods") or ()),
            auth=auth,
            gas=max(int(record.get("gas") or 0), 0),
        )
    except (KeyError, ValueError, TypeError, UnicodeEncodeError, BadPath) as exc:
        log.warning("Skipping a malformed route from the registry: %s", exc)
        return None


class RouteTable:
    def __init__(self) -> None:
        self.version = 0
        self._by_service: dict[str, tuple[Route, ...]] = {}
        self._by_path: dict[str, tuple[Route, ...]] = {}

    def __len__(self) -> int:
        return sum(len(routes) for routes in self._by_service.values())

    def replace(self, routes: Iterable[Route], *, version: int) -> None:
        by_service: dict[str, list[Route]] = {}
        for route in routes:
            by_service.setdefault(route.service, []).append(route)
        self._by_service = {name: tuple(rs) for name, rs in by_service.items()}
        self._reindex(version)

    def put_service(self, service: str, routes: Iterable[Route], *, version: int) -> None:
        self._by_service = {**self._by_service, service: tuple(routes)}
        self._reindex(version)

    def drop_service(self, service: str, *, version: int) -> None:
        self._by_service = {k: v for k, v in self._by_service.items() if k != service}
        self._reindex(version)

    def upstream_of(self, service: str) -> Route | None:
        """Any route of ``service`` (they share upstream and owner), for ``/proxy``."""
        routes = self._by_service.get(service)
        return routes[0] if routes else None

    def match(self, path: str, method: str) -> Match:
        """The longest route prefix of the normalised ``path`` allowing ``method``."""
        by_path = self._by_path
        prefix = path.rstrip("/") or "/"
        known = False
        while True:
            routes = by_path.get(prefix)
            if routes is not None:
                known = True
                for route in routes:
                    if route.allows(method):
                        return Match(route, True)
            if prefix == "/":
                return Match(None, known)
            prefix = prefix[: prefix.rindex("/")] or "/"

    def _reindex(self, version: int) -> None:
        by_path: dict[str, list[Route]] = {}
        for routes in self._by_service.values():
            for route in routes:
                by_path.setdefault(route.path, []).append(route)
        self._by_path = {path: tuple(rs) for path, rs in by_path.items()}
        self.version = version
