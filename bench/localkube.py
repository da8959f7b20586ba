"""The local Kubernetes API against bare kmock, with the same load.

Starts each server as a subprocess on loopback, then drives it with an
asyncio httpx client (16 concurrent requests) and prints requests per second
and p50/p99 latency for creating, reading, merge-patching and listing
ConfigMaps, plus the ratio localkube / kmock. Bare kmock's emulator is the
baseline our compatibility layer replaces (no resourceVersion, no selectors,
no finalizers), so the ratio is the price of real semantics. For localkube
alone it also measures the same operations at a larger size (``--scale``;
bare kmock slows down with every stored object, so it only runs the small
size) and the watch delivery latency (write answered → event read).

    .venv/bin/python bench/localkube.py [--objects 100] [--scale 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

BARE_KMOCK = """
import asyncio, kmock
async def main():
    handler = kmock.KubernetesEmulator()
    handler.resources.load_bundled()
    async with handler, kmock.Server(handler) as server:
        print(f"server: http://127.0.0.1:{server.port}", flush=True)
        await asyncio.Event().wait()
asyncio.run(main())
"""
MERGE = {"Content-Type": "application/merge-patch+json"}


def start(command: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    while True:
        line = process.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"{command} did not start")
        if line.startswith("server: "):
            return process, line.split(": ", 1)[1].strip()


async def timed(
    count: int, concurrency: int, call: Callable[[int], Awaitable[httpx.Response]]
) -> tuple[float, float, float]:
    """Requests per second, p50 ms, p99 ms."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            started = time.perf_counter()
            response = await call(index)
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return count / elapsed, statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


async def drive(url: str, objects: int, concurrency: int) -> dict[str, tuple[float, float, float]]:
    base = "/api/v1/namespaces/default/configmaps"
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        body = {"metadata": {"name": "c"}, "data": {"key": "x" * 200}}
        return {
            "create": await timed(
                objects, concurrency,
                lambda i: http.post(base, json={**body, "metadata": {"name": f"c{i}"}}),
            ),
            "get": await timed(objects, concurrency, lambda i: http.get(f"{base}/c{i}")),
            "patch": await timed(
                objects, concurrency,
                lambda i: http.patch(f"{base}/c{i}", headers=MERGE, json={"data": {"n": str(i)}}),
            ),
            "list": await timed(20, 1, lambda _: http.get(base)),
        }  # fmt: skip


async def watch_latency(url: str, samples: int) -> tuple[float, float]:
    base = "/api/v1/namespaces/watched/configmaps"
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        listed = (await http.get(base)).json()["metadata"]["resourceVersion"]
        params = {"watch": "true", "resourceVersion": listed, "timeoutSeconds": "30"}
        async with http.stream("GET", base, params=params) as stream:
            lines = stream.aiter_lines()
            for index in range(samples):
                await http.post(base, json={"metadata": {"name": f"w{index}"}})
                answered = time.perf_counter()
                event = json.loads(await anext(lines))
                assert event["object"]["metadata"]["name"] == f"w{index}"
                latencies.append((time.perf_counter() - answered) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()

    results = {}
    for name, command in (
        ("localkube", [sys.executable, "-m", "tawa.localkube"]),
        ("kmock", [sys.executable, "-c", BARE_KMOCK]),
    ):
        process, url = start(command)
        try:
            results[name] = asyncio.run(drive(url, arguments.objects, arguments.concurrency))
        finally:
            process.terminate()
            process.wait(timeout=15)
    process, url = start([sys.executable, "-m", "tawa.localkube"])
    try:
        at_scale = asyncio.run(drive(url, arguments.scale, arguments.concurrency))
        p50, p99 = asyncio.run(watch_latency(url, 200))
    finally:
        process.terminate()
        process.wait(timeout=15)

    print(f"{arguments.objects} ConfigMaps, {arguments.concurrency} concurrent requests")
    print(f"{'operation':<10}{'localkube req/s':>17}{'p50/p99 ms':>14}{'kmock req/s':>14}"
          f"{'p50/p99 ms':>14}{'ratio':>8}")  # fmt: skip
    for operation, (rate, p50_, p99_) in results["localkube"].items():
        bare_rate, bare_p50, bare_p99 = results["kmock"][operation]
        print(
            f"{operation:<10}{rate:>17.0f}{f'{p50_:.1f}/{p99_:.1f}':>14}{bare_rate:>14.0f}"
            f"{f'{bare_p50:.1f}/{bare_p99:.1f}':>14}{rate / bare_rate:>8.2f}"
        )
    print(f"\nlocalkube alone, {arguments.scale} ConfigMaps")
    for operation, (rate, p50_, p99_) in at_scale.items():
        print(f"{operation:<10}{rate:>17.0f}{f'{p50_:.1f}/{p99_:.1f}':>14}")
    print(f"watch delivery (localkube): p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
