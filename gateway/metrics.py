"""The gateway's Prometheus metrics, in a registry of their own."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "tawa_gateway_requests_total",
    "Requests answered, by service (or '-' when no route matched) and status",
    ["service", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "tawa_gateway_request_duration_seconds",
    "Time from request to the end of the answer, by service",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "tawa_gateway_upstream_errors_total",
    "Upstream failures, by service and kind (connect, timeout, protocol)",
    ["service", "kind"],
    registry=REGISTRY,
)
ROUTES = Gauge("tawa_gateway_routes", "Routes in the table", registry=REGISTRY)
ROUTE_VERSION = Gauge(
    "tawa_gateway_route_version", "Registry version of the route table", registry=REGISTRY
)
ROUTE_SYNC_FAILURES = Counter(
    "tawa_gateway_route_sync_failures_total",
    "Failed reads of the registry or Redis",
    ["source"],
    registry=REGISTRY,
)
USAGE_BUFFERED = Gauge(
    "tawa_gateway_usage_buffer_size",
    "Usage events waiting to reach the wallet",
    registry=REGISTRY,
)
USAGE_DROPPED = Counter(
    "tawa_gateway_usage_dropped_total",
    "Usage events dropped because the buffer was full",
    registry=REGISTRY,
)
USAGE_SHIP_FAILURES = Counter(
    "tawa_gateway_usage_ship_failures_total",
    "Batches the wallet did not accept (they are retried)",
    registry=REGISTRY,
)
USAGE_RESULTS = Counter(
    "tawa_gateway_usage_results_total",
    "Usage events settled by the wallet, by result",
    ["status"],
    registry=REGISTRY,
)

# Labelled children, looked up once: ``labels()`` takes a lock and builds a key on
# every call, and this runs for every request.
_request_children: dict[tuple[str, int], tuple[Any, Any]] = {}


def observe_request(service: str, status: int, seconds: float) -> None:
    children = _request_children.get((service, status))
    if children is None:
        children = (REQUESTS.labels(service, str(status)), LATENCY.labels(service))
        _request_children[(service, status)] = children
    children[0].inc()
    children[1].observe(seconds)
