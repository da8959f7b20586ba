"""What every service client shares: one httpx client carrying the internal key."""

from __future__ import annotations

from types import TracebackType
from typing import Self
from urllib.parse import quote

import httpx


def segment(value: str) -> str:
    """``value`` as one URL path segment, whatever it holds.

    Every id a client puts in a path goes through here: a raw ``../victim``
    would be resolved by httpx to another resource (``tawa config unset
    ../svc`` deleted all of svc's config), and ``?`` or ``#`` would cut the
    path short. A segment of dots only is encoded so no one resolves it.
    """
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if set(encoded) <= {"."} else encoded


class InternalClient:
    """``async with Client(url, internal_key=...) as client: ...``; closes its connections."""

    def __init__(
        self,
        base_url: str,
        *,
        internal_key: str,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-Internal-Key": internal_key},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
