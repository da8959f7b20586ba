"""Janus, the gateway: a bare ASGI app on every external request's path.

It is plain ASGI rather than FastAPI because it has one catch-all route and is
on the hot path: a framework's routing and middleware would cost more than
the proxy hop itself (see ``bench/gateway.py``). It still answers ``/healthz``,
``/readyz`` and ``/metrics`` like every Tawa service.

For each request: normalise the path (400 if ambiguous), match a route (404 /
405), authenticate (401), check the payer's wallet is not known to be empty
(402), forward with the verified identity, stream the answer back, and record
gas for a 2xx. ``/proxy/{service}/...`` is the internal metered proxy: any
method, a token required, one token of gas per 2xx.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from contextlib import suppress
from typing import Any

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from tawa import logs
from tawa.errors import TawaError
from tawa.gateway import metrics
from tawa.gateway.answers import Call, log_access, send_bytes, send_error, send_json
from tawa.gateway.auth import Authenticator, Identity, Verifier, bearer_token
from tawa.gateway.errors import (
    GatewayError,
    InsufficientGas,
    MethodNotAllowed,
    RouteNotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tawa.gateway.forward import (
    ClientGone,
    Receive,
    Send,
    request_body,
    stream_answer,
    upstream_headers,
)
from tawa.gateway.gas import Balances, UsageShipper, WalletApi, usage_event
from tawa.gateway.paths import normalise
from tawa.gateway.routes import Route, RouteTable
from tawa.gateway.settings import GatewaySettings
from tawa.gateway.sync import RegistryUnavailable, RouteSync
from tawa.tokens import InvalidToken, TokenVerifier

PROXY_PREFIX = "/proxy/"
PROXY_GAS = 1
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, settings: GatewaySettings, *, verifier: Verifier | None = None) -> None:
        self.settings = settings
        self.table = RouteTable()
        self.auth = Authenticator(
            verifier
            or TokenVerifier(
                jwks_url=settings.jwks(),
                issuer=settings.issuer(),
                audience=settings.token_audience,
            ),
            size=settings.token_cache_size,
            ttl=settings.token_cache_seconds,
        )
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.upstream_connect_timeout,
            sock_read=settings.upstream_read_timeout,
        )
        self._tasks: list[asyncio.Task[None]] = []

    # -- ASGI entry ----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        call = Call(scope["method"], scope["path"], _request_id(scope["headers"]))
        try:
            await self._answer(scope, receive, send, call)
        except TawaError as exc:
            call.status = exc.status
            await send_error(send, exc, call.request_id)
        except ClientGone:
            call.status = 499
        except Exception:
            # A bug of ours: answer 500 with the request id rather than drop the connection.
            log.exception("Request %s failed unexpectedly.", call.request_id)
            call.status = 500
            failure = GatewayError("the gateway failed to handle this request", code="internal")
            await send_error(send, failure, call.request_id)
        elapsed = time.perf_counter() - started
        metrics.observe_request(call.service, call.status, elapsed)
        if call.path not in ("/healthz", "/readyz", "/metrics"):
            log_access(call, elapsed)

    async def _answer(
        self, scope: dict[str, Any], receive: Receive, send: Send, call: Call
    ) -> None:
        if call.path in ("/healthz", "/readyz", "/metrics"):
            call.status = await self._own_endpoint(call.path, send)
            return
        path = normalise(scope.get("raw_path") or scope["path"].encode("latin-1"))
        call.path = path
        headers: list[tuple[bytes, bytes]] = scope["headers"]

        identity: Identity | None
        if path.startswith(PROXY_PREFIX):
            route, path, identity = await self._metered_proxy_route(path, headers)
        else:
            route, identity = await self._route(path, call.method, headers)
        call.service = route.service

        # Gas is settled after the answer; refuse up front only a wallet known to be empty.
        payer = _payer(identity, headers, route) if route.gas > 0 else ""
        if payer and self.balances.is_known_empty(payer, route.gas):
            raise InsufficientGas(f"the wallet of org {payer} cannot pay this call's gas")

        call.status = await self._forward(scope, receive, send, route, path, identity, call)
        if 200 <= call.status < 300 and payer:
            self.shipper.record(
                usage_event(
                    org=payer,
                    service=route.service,
                    environment=route.environment or self.settings.environment,
                    route=route.path,
                    amount=route.gas,
                )
            )

    # -- routing and auth ---------------------------------------------------------------

    async def _route(
        self, path: str, method: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[Route, Identity | None]:
        match = self.table.match(path, method)
        if match.route is None:
            if match.path_is_known:
                raise MethodNotAllowed(f"{method} is not allowed on {path}")
            raise RouteNotFound(f"no route serves {path}")
        route = match.route
        if route.auth == "none":
            return route, None
        token = bearer_token(_header(headers, b"authorization"))
        if token is None:
            if route.auth == "required":
                raise InvalidToken("this route requires a bearer token", code="unauthorized")
            return route, None
        return route, await self.auth.identify(token)

    async def _metered_proxy_route(
        self, path: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[Route, str, Identity]:
        service, _, rest = path[len(PROXY_PREFIX) :].partition("/")
        token = bearer_token(_header(headers, b"authorization"))
        if token is None:
            raise InvalidToken("the metered proxy requires a bearer token", code="unauthorized")
        identity = await self.auth.identify(token)
        target = self.table.upstream_of(service)
        if target is None:
            raise RouteNotFound(f"no service {service!r} is registered")
        route = Route(
            service=target.service,
            environment=target.environment,
            owner=target.owner,
            upstream=target.upstream,
            path=PROXY_PREFIX + service,
            methods=frozenset(),
            auth="required",
            gas=PROXY_GAS,
        )
        return route, "/" + rest, identity

    # -- the hop ----------------------------------------------------------------------

    async def _forward(
        self,
        scope: dict[str, Any],
        receive: Receive,
        send: Send,
        route: Route,
        path: str,
        identity: Identity | None,
        call: Call,
    ) -> int:
        whole, stream = await request_body(receive)
        query = scope.get("query_string") or b""
        # encoded=True: the path is already canonical and the query is the client's, verbatim.
        url = URL(
            route.upstream + path + ("?" + query.decode("latin-1") if query else ""), encoded=True
        )
        client = scope.get("client")
        headers = upstream_headers(
            scope["headers"],
            identity=identity.headers if identity else (),
            request_id=call.request_id,
            client=client[0] if client else "",
            scheme=scope.get("scheme", "http"),
            keep_length=stream is not None,
        )
        try:
            async with self.session.request(
                call.method,
                url,
                headers=headers,
                data=whole if stream is None else stream,
                allow_redirects=False,
                timeout=self.timeout,
            ) as response:
                await stream_answer(response, send, request_id=call.request_id.encode())
                return response.status
        except TimeoutError as exc:
            metrics.UPSTREAM_ERRORS.labels(route.service, "timeout").inc()
            raise UpstreamTimeout(
                f"the upstream of {route.service} did not answer in time"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            metrics.UPSTREAM_ERRORS.labels(route.service, "connect").inc()
            raise UpstreamUnavailable(f"the upstream of {route.service} is unreachable") from exc
        except aiohttp.ClientError as exc:
            metrics.UPSTREAM_ERRORS.labels(route.service, "protocol").inc()
            raise UpstreamUnavailable(f"the upstream of {route.service} failed") from exc

    # -- own endpoints and lifecycle ----------------------------------------------------------

    async def _own_endpoint(self, path: str, send: Send) -> int:
        if path == "/metrics":
            await send_bytes(send, 200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
            return 200
        if path == "/readyz" and not self.sync.loaded:
            await send_json(send, 503, {"status": "not ready", "reason": "no route table yet"})
            return 503
        body = {"status": "ready" if path == "/readyz" else "ok", "component": "gateway"}
        await send_json(send, 200, body)
        return 200

    async def start(self) -> None:
        s = self.settings
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.upstream_connections, ttl_dns_cache=30),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )
        key = s.internal_key.get_secret_value()
        wallet = WalletApi(
            self.session, url=s.wallet_url, internal_key=key, timeout=s.wallet_timeout_seconds
        )
        self.balances = Balances(wallet, refresh_seconds=s.balance_refresh_seconds)
        self.shipper = UsageShipper(
            wallet,
            self.balances,
            capacity=s.usage_buffer_size,
            batch_size=s.usage_batch_size,
            flush_seconds=s.usage_flush_seconds,
        )
        self.sync = RouteSync(
            self.table,
            self.session,
            registry_url=s.registry_url,
            internal_key=key,
            environment=s.environment,
            redis_url=s.redis_url,
            resync_seconds=s.route_resync_seconds,
        )
        try:
            await self.sync.load()
        except (RegistryUnavailable, aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "The registry is unreachable at start (%s); not ready until it answers.", exc
            )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.sync.follow()),
            loop.create_task(self.sync.resync_forever()),
            loop.create_task(self.shipper.run()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        await self.shipper.drain(self.settings.usage_drain_seconds)
        await self.session.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _payer(identity: Identity | None, headers: list[tuple[bytes, bytes]], route: Route) -> str:
    """Who pays: ``X-Bill-Org`` if the caller may bill it, else the caller's org, else the owner."""
    if identity is not None:
        asked = _header(headers, b"x-bill-org")
        if asked is not None and identity.may_bill(asked.decode("latin-1").strip()):
            return asked.decode("latin-1").strip()
        if identity.org:
            return identity.org
    return route.owner


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    given = _header(headers, b"x-request-id")
    if given is not None:
        text = given.decode("latin-1")
        if _REQUEST_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def from_environment() -> Gateway:
    """The gateway configured from ``TAWA_*``, logging set up: the factory servers import."""
    settings = GatewaySettings()
    logs.configure("gateway", level=settings.log_level, json_lines=settings.log_json)
    return Gateway(settings)
