"""Wallet throughput: idempotent charges per second against the running service.

Starts ``python -m tawa.wallet`` on a free port and measures, at concurrency 1
and 32 (one HTTP connection per client):

- charges: each a new idempotency key (claim, guarded update, finalise);
- replays: the same charges again (answered from the ledger);
- a no-op HTTP round trip (``/healthz``), to show what HTTP itself costs;
- the baseline: plain ``insert_one`` of entry-sized documents into the same
  kind of store (same engine, same unique index, same growth), from as many
  threads, with no HTTP.

Store: ``TAWA_MONGODB_URI`` if set (the service and the baseline then share
that server), else the in-process engine, which scans a whole collection per
query, so its figures fall as the ledger grows. ``--count`` sets the charges
per level.

    .venv/bin/python bench/wallet.py [--count 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from bson import ObjectId

from tawa.store import is_in_memory, mongo_client

LEVELS = (1, 32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_wallet(uri: str, key: str, database: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "TAWA_INTERNAL_KEY": key,
        "TAWA_MONGODB_URI": uri,
        "TAWA_WALLET_DATABASE": database,
        "TAWA_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.wallet", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the wallet did not start")


async def rate(
    url: str,
    key: str,
    concurrency: int,
    count: int,
    request: Callable[[httpx.AsyncClient, int], Awaitable[None]],
) -> float:
    """Requests per second for ``count`` requests shared by ``concurrency`` clients."""
    limits = httpx.Limits(max_connections=1)
    clients = [
        httpx.AsyncClient(base_url=url, headers={"X-Internal-Key": key}, limits=limits, timeout=120)
        for _ in range(concurrency)
    ]
    todo = list(range(count))

    async def drain(http: httpx.AsyncClient) -> None:
        while todo:
            await request(http, todo.pop())

    started = time.perf_counter()
    await asyncio.gather(*(drain(http) for http in clients))
    elapsed = time.perf_counter() - started
    for http in clients:
        await http.aclose()
    return count / elapsed


def charge_request(wallet: str, run: str) -> Callable[[httpx.AsyncClient, int], Awaitable[None]]:
    async def send(http: httpx.AsyncClient, i: int) -> None:
        body = {
            "amount": 1,
            "kind": "hosting",
            "service": "bench",
            "environment": "sandbox",
            "idempotencyKey": f"{run}-{i}",
        }
        answer = await http.post(f"/v1/wallets/{wallet}/charges", json=body)
        if answer.status_code != 201:
            raise SystemExit(f"charge failed: {answer.status_code} {answer.text}")

    return send


async def health_request(http: httpx.AsyncClient, i: int) -> None:
    await http.get("/healthz")


def insert_rate(collection: object, concurrency: int, count: int, run: str) -> float:
    """Plain inserts per second from ``concurrency`` threads (serialised for mongomock)."""
    lock = threading.Lock() if is_in_memory(os.environ.get("TAWA_MONGODB_URI")) else None

    def insert(i: int) -> None:
        doc = {
            "_id": str(ObjectId()),
            "walletId": "wallet-baseline",
            "key": f"{run}-{i}",
            "kind": "hosting",
            "amount": 1,
            "state": "applied",
            "createdAt": datetime.now(UTC),
        }
        if lock is None:
            collection.insert_one(doc)  # type: ignore[attr-defined]
        else:
            with lock:
                collection.insert_one(doc)  # type: ignore[attr-defined]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(insert, range(count)))
    return count / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description="Wallet charge throughput versus plain inserts.")
    parser.add_argument("--count", type=int, default=500, help="charges per concurrency level")
    args = parser.parse_args()
    uri = os.environ.get("TAWA_MONGODB_URI") or "memory://"
    key, database = uuid.uuid4().hex, f"tawa_wallet_bench_{uuid.uuid4().hex[:8]}"
    process, url = start_wallet(uri, key, database)
    store = mongo_client(uri)
    baseline = store[database]["baseline"]
    baseline.create_index([("walletId", 1), ("key", 1)], unique=True)
    try:
        async with httpx.AsyncClient(base_url=url, headers={"X-Internal-Key": key}) as http:
            await http.post("/v1/wallets", json={"org": "bench"})
            # Enough purchased tokens that no level runs dry.
            credit = {
                "amount": 10**9,
                "tokenType": "purchased",
                "reason": "bench",
                "idempotencyKey": "fund",
            }
            await http.post("/v1/wallets/wallet-bench/credits", json=credit)

        store_name = "MongoDB" if not is_in_memory(uri) else "in-process engine (mongomock)"
        print(f"wallet bench: {args.count} requests per level, store: {store_name}")
        columns = ("concurrency", "charges/s", "replays/s", "HTTP no-op/s", "inserts/s")
        print("  ".join(f"{c:>12}" for c in columns) + f"  {'charge : insert':>15}")
        for level in LEVELS:
            run = f"c{level}"
            charges = await rate(url, key, level, args.count, charge_request("wallet-bench", run))
            replays = await rate(url, key, level, args.count, charge_request("wallet-bench", run))
            noop = await rate(url, key, level, args.count, health_request)
            inserts = insert_rate(baseline, level, args.count, run)
            figures = [f"{level:>12}"] + [f"{v:>12.0f}" for v in (charges, replays, noop, inserts)]
            ratio = f"1 : {inserts / charges:.1f}"
            print("  ".join(figures) + f"  {ratio:>15}")
        async with httpx.AsyncClient(base_url=url, headers={"X-Internal-Key": key}) as http:
            audit = (await http.get("/v1/wallets/wallet-bench/audit")).json()
        print(
            f"ledger consistent after the run: {audit['consistent']} ({audit['entries']} entries)"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        if not is_in_memory(uri):
            store.drop_database(database)


if __name__ == "__main__":
    asyncio.run(main())
