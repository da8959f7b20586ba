"""Registry throughput on loopback: writes, the drift timer's no-op write, reads.

Starts a private redis-server and the registry (``python -m tawa.registry``,
in-process MongoDB engine), fills it with ``--services`` records of three
routes each, then times, with ``--concurrency`` client threads:

- upsert (changed): a new route list each time (claims, version, log, publish);
- upsert (unchanged): what the operator's drift timer sends every few minutes;
- full route table read (what a gateway does at start and on a 410);
- changes since a recent version (what a gateway does per Redis notice).

    .venv/bin/python bench/registry.py [--services 200] [--requests 400] [--concurrency 4]

Figures on a shared 2-core machine are noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.redis_server import redis_server  # noqa: E402
from tests.harness.registry_server import registry_server  # noqa: E402


def body(index: int, variant: int = 0) -> dict[str, object]:
    routes = [{"path": f"/api/svc-{index}/r{k}-{variant}", "gas": 1} for k in range(3)]
    return {"owner": "bench", "upstream": f"http://svc-{index}:3000", "routes": routes}


def timed(label: str, count: int, workers: int, call: Callable[[int], int]) -> dict[str, float]:
    latencies: list[float] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        status = call(i)
        latencies.append(time.perf_counter() - started)
        if status >= 400:
            raise RuntimeError(f"{label}: request {i} answered {status}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    figures = {
        "rps": count / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }
    print(f"{label:<28} {figures['rps']:>8.0f} req/s  p50 {figures['p50']:>6.1f} ms  "
          f"p99 {figures['p99']:>6.1f} ms")  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with redis_server() as redis, registry_server(redis_url=redis.url) as server:
        local = httpx.Client(base_url=server.url, headers=server.headers, timeout=30)
        clients = [
            httpx.Client(base_url=server.url, headers=server.headers, timeout=30)
            for _ in range(args.concurrency)
        ]

        def client(i: int) -> httpx.Client:
            return clients[i % len(clients)]

        for i in range(args.services):
            local.put(f"/v1/services/sandbox/svc-{i}", json=body(i)).raise_for_status()
        n, c, s = args.requests, args.concurrency, args.services
        print(f"{s} services x 3 routes, {n} requests per line, {c} client threads\n")

        changed = timed(
            "upsert (changed)", n, c,
            lambda i: client(i).put(f"/v1/services/sandbox/svc-{i % s}",
                                    json=body(i % s, variant=i + 1)).status_code,
        )  # fmt: skip
        current = [local.get(f"/v1/services/sandbox/svc-{i}").json() for i in range(s)]
        same = [{k: r[k] for k in ("owner", "upstream", "routes")} for r in current]
        unchanged = timed(
            "upsert (unchanged)", n, c,
            lambda i: client(i).put(f"/v1/services/sandbox/svc-{i % s}",
                                    json=same[i % s]).status_code,
        )  # fmt: skip
        table = timed(
            "route table (full)", max(n // 10, 10), c,
            lambda i: client(i).get("/v1/routes", params={"environment": "sandbox"}).status_code,
        )  # fmt: skip
        version = local.get("/v1/routes").json()["version"]
        recent = {"since": version - 5}
        since = timed(
            "changes since (last 5)", n, c,
            lambda i: client(i).get("/v1/routes/changes", params=recent).status_code,
        )  # fmt: skip
        rows = len(local.get("/v1/routes").json()["routes"])
        print(f"\nroute table rows: {rows}")
        print(f"unchanged / changed upsert throughput: {unchanged['rps'] / changed['rps']:.2f}x")
        print(f"changes-since / full-table throughput: {since['rps'] / table['rps']:.1f}x")
        for http in (local, *clients):
            http.close()


if __name__ == "__main__":
    main()
