"""What every companion service's ASGI app shares.

``create_app`` gives a FastAPI app with ``/healthz``, ``/readyz``, Prometheus
``/metrics``, a request id on every answer, JSON access logs and one handler
that turns :class:`tawa.errors.TawaError` into a JSON error body. Services add
their routers and readiness checks; they build no error response inline.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException

from tawa.errors import TawaError

ReadinessCheck = Callable[[], Awaitable[bool] | bool]
access_log = logging.getLogger("tawa.access")


class Unauthorized(TawaError):
    code = "unauthorized"
    status = 401


class Forbidden(TawaError):
    code = "forbidden"
    status = 403


def create_app(
    component: str,
    *,
    title: str,
    version: str = "0.1.0",
    readiness: list[ReadinessCheck] | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's health, metrics and error handling."""
    app = FastAPI(title=title, version=version)
    registry = CollectorRegistry()
    requests = Counter(
        "http_requests_total", "HTTP requests served", ["method", "status"], registry=registry
    )
    latency = Histogram(
        "http_request_duration_seconds", "Request latency", ["method"], registry=registry
    )
    app.state.metrics_registry = registry
    checks = list(readiness or [])
    app.state.readiness = checks

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        response.headers["X-Request-Id"] = request_id
        requests.labels(request.method, str(response.status_code)).inc()
        latency.labels(request.method).observe(elapsed)
        if request.url.path not in ("/healthz", "/readyz", "/metrics"):
            access_log.info(
                "%s %s %s",
                request.method,
                request.url.path,
                response.status_code,
                extra={
                    "fields": {
                        "component": component,
                        "request_id": request_id,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
        return response

    @app.exception_handler(TawaError)
    async def _tawa_error(request: Request, exc: TawaError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # The framework's own refusals (no such path, wrong method, a body that
        # is not JSON) answer in the same shape as ours, with a stable code.
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        body = error_body(code, _HTTP_MESSAGES.get(code, str(exc.detail)))
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return JSONResponse(
            error_body(
                "invalid_request",
                "the request body or parameters are invalid",
                {"problems": problems},
            ),
            status_code=422,
        )

    @app.get("/healthz", include_in_schema=False)
    async def _healthz() -> dict[str, str]:
        return {"status": "ok", "component": component}

    @app.get("/readyz", include_in_schema=False)
    async def _readyz() -> JSONResponse:
        for check in app.state.readiness:
            outcome = check()
            ready = await outcome if not isinstance(outcome, bool) else outcome
            if not ready:
                return JSONResponse({"status": "not ready"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
_HTTP_MESSAGES = {
    "bad_request": "the request body cannot be parsed",
    "not_found": "no such path; see /docs for the API",
    "method_not_allowed": "this path does not accept that method; see /docs for the API",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def internal_key_dependency(expected: str) -> Callable[..., None]:
    """A FastAPI dependency that requires ``X-Internal-Key`` to equal ``expected``.

    The comparison is constant-time. An empty ``expected`` refuses everything,
    so a service started without a key is closed, not open.
    """

    def _check(x_internal_key: str | None = Header(default=None)) -> None:
        if not expected or not x_internal_key:
            raise Unauthorized("the X-Internal-Key header is missing")
        if not hmac.compare_digest(x_internal_key.encode(), expected.encode()):
            raise Unauthorized("the X-Internal-Key header is not valid")

    return _check
