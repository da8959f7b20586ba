"""Acceptance: many clients charging and crediting a running wallet at once.

32 clients share a shuffled list of charges and credits over a few wallets;
10% of the requests are resent with the same key (some while the first is
still in flight), some are cut off by a client timeout and resent later, and a
few reuse a key with another body. Afterwards the ledger must explain every
balance exactly, and no balance may have been seen below zero.

``TAWA_WALLET_STRESS_OPS`` sets the number of unique requests. The default is
10,000 on a real MongoDB and smaller on the in-process engine, which scans a
whole collection per query (see the figure in the report of issue 4).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.harness.wallet_server import WalletServer

pytestmark = pytest.mark.integration

CLIENTS = 32
WALLETS = 4
REPLAYED = 0.10
CUT_OFF = 0.03
CONFLICTS = 20
INTRO = 50_000


@dataclass
class Op:
    key: str
    wallet: str
    path: str
    body: dict[str, Any]

    @property
    def signed_amount(self) -> int:
        return self.body["amount"] if self.path == "credits" else -self.body["amount"]


@dataclass
class Run:
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    cut_off: set[str] = field(default_factory=set)
    lowest_balance: int = 0
    sends: int = 0


def _ops(count: int, wallets: list[str], rng: random.Random) -> list[Op]:
    ops = []
    for i in range(count):
        wallet, key = rng.choice(wallets), f"stress-{i}"
        if rng.random() < 0.6:
            kind = rng.choice(["hosting", "hosting", "transaction"])
            body = {
                "amount": rng.randint(1, 1000),
                "kind": kind,
                "service": f"svc-{rng.randint(1, 3)}",
                "environment": "sandbox",
                "idempotencyKey": key,
            }
            ops.append(Op(key, wallet, "charges", body))
        else:
            body = {
                "amount": rng.randint(1, 500),
                "tokenType": rng.choice(["purchased", "earned"]),
                "reason": "stress credit",
                "idempotencyKey": key,
            }
            ops.append(Op(key, wallet, "credits", body))
    return ops


async def _client(http: httpx.AsyncClient, sends: list[tuple[Op, bool]], run: Run) -> None:
    while sends:
        op, cut = sends.pop()
        run.sends += 1
        try:
            response = await http.post(
                f"/v1/wallets/{op.wallet}/{op.path}", json=op.body, timeout=0.002 if cut else 60
            )
        except httpx.TransportError:
            # Cut off (or the connection dropped): the outcome is unknown, so the
            # client resends the same key later, as a real client must.
            run.cut_off.add(op.key)
            continue
        if (
            response.status_code == 409
            and response.json()["error"]["code"] == "request_in_progress"
        ):
            sends.insert(0, (op, False))  # the first attempt is still in flight; ask again later
            continue
        run.answers[op.key].append((response.status_code, response.json()))


async def _watch_balances(
    http: httpx.AsyncClient, wallets: list[str], run: Run, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        for wallet in wallets:
            try:
                view = (await http.get(f"/v1/wallets/{wallet}")).json()
            except httpx.TransportError:
                continue  # a slow answer under load is no finding; the next look counts
            for balance in view["balances"]:
                run.lowest_balance = min(run.lowest_balance, balance["balance"])
        await asyncio.sleep(0.05)


async def _ledger(http: httpx.AsyncClient, wallet: str) -> list[dict[str, Any]]:
    entries, cursor = [], None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await http.get(f"/v1/wallets/{wallet}/ledger", params=params)).json()
        entries += page["entries"]
        cursor = page.get("nextCursor")
        if cursor is None:
            return entries


def _unique_ops(srv: WalletServer) -> int:
    configured = int(os.environ.get("TAWA_WALLET_STRESS_OPS", "0"))
    return configured or (10_000 if srv.mongodb_uri != "memory://" else 1_000)


async def test_concurrent_writes_leave_every_balance_explained_by_the_ledger(
    wallet_srv: WalletServer,
) -> None:
    rng = random.Random(4)
    suffix = rng.randrange(10**8)
    wallets = [f"wallet-stress-{suffix}-{i}" for i in range(WALLETS)]
    ops = _ops(_unique_ops(wallet_srv), wallets, rng)
    sends = [(op, rng.random() < CUT_OFF) for op in ops]
    sends += [(op, False) for op in rng.sample(ops, int(len(ops) * REPLAYED))]
    rng.shuffle(sends)
    run = Run()

    limits = httpx.Limits(max_connections=1)
    admin = httpx.AsyncClient(base_url=wallet_srv.url, headers=wallet_srv.headers, timeout=60)
    async with admin:
        for wallet in wallets:
            org = wallet.removeprefix("wallet-")
            assert (await admin.post("/v1/wallets", json={"org": org})).status_code == 200

        # 32 clients, each with its own connection, drain one shared list of sends.
        clients = [
            httpx.AsyncClient(base_url=wallet_srv.url, headers=wallet_srv.headers, limits=limits)
            for _ in range(CLIENTS)
        ]
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_balances(admin, wallets, run, stop))
        await asyncio.gather(*(_client(http, sends, run) for http in clients))
        stop.set()
        await watcher

        # Clients that were cut off resend with the same key to learn the outcome.
        by_key = {op.key: op for op in ops}
        resend = [(by_key[key], False) for key in sorted(run.cut_off)]
        await asyncio.gather(*(_client(http, resend, run) for http in clients))
        for http in clients:
            await http.aclose()

        # The same key with another body is refused and changes nothing. (A charge
        # that could not be paid left no trace, so its key is free again.)
        paid = [op for op in ops if any(s == 201 for s, _ in run.answers[op.key])]
        for op in rng.sample(paid, CONFLICTS):
            changed = op.body | {"amount": op.body["amount"] + 1}
            answer = await admin.post(f"/v1/wallets/{op.wallet}/{op.path}", json=changed)
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"]["code"] == "duplicate_key_conflict"

        print(
            f"\nwallet stress: {len(ops)} unique requests, {run.sends} sends by {CLIENTS} clients,"
            f" {len(run.cut_off)} cut off"
        )
        await _settled(admin, wallets)
        await _check(admin, wallets, ops, run)


async def _settled(http: httpx.AsyncClient, wallets: list[str], timeout: float = 20.0) -> None:
    """Wait until no request is in flight: a cut-off request may still be queued server-side."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        audits = [(await http.get(f"/v1/wallets/{w}/audit")).json() for w in wallets]
        if not any(a["pendingEntries"] or a["parkedChanges"] for a in audits):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"requests still in flight after {timeout}s: {audits}")


async def _check(http: httpx.AsyncClient, wallets: list[str], ops: list[Op], run: Run) -> None:
    # Each key's answers agree: every success names the same entry.
    entry_of: dict[str, str] = {}
    for op in ops:
        answers = run.answers[op.key]
        assert answers, f"{op.key} never got a definitive answer"
        for status, body in answers:
            assert status in (201, 402), (op.key, status, body)
        ids = {body["id"] for status, body in answers if status == 201}
        assert len(ids) <= 1, f"{op.key} was answered with different entries {ids}"
        if ids:
            entry_of[op.key] = ids.pop()

    assert run.lowest_balance >= 0
    for wallet in wallets:
        entries = await _ledger(http, wallet)
        mine = {op.key: op for op in ops if op.wallet == wallet}
        paid = {key for key in mine if key in entry_of}
        keys = [e["idempotencyKey"] for e in entries if e["kind"] != "grant"]

        # Nothing doubled, nothing lost, every entry is the one the client was told.
        assert len(keys) == len(set(keys))
        assert set(keys) == paid
        for entry in entries:
            if entry["kind"] == "grant":
                continue
            op = mine[entry["idempotencyKey"]]
            assert entry["id"] == entry_of[op.key]
            assert entry["amount"] == op.body["amount"]
            assert sum(abs(c) for c in entry["changes"].values()) == entry["amount"]
            assert min(entry["balancesAfter"].values()) >= 0
            if entry["kind"] == "transaction":
                assert "intro" not in entry["changes"]

        # The balance is the grant plus the unique credits minus the unique charges.
        expected = INTRO + sum(mine[key].signed_amount for key in paid)
        view = (await http.get(f"/v1/wallets/{wallet}")).json()
        assert view["totalBalance"] == expected
        audit = (await http.get(f"/v1/wallets/{wallet}/audit")).json()
        assert audit["consistent"], audit
        assert audit["pendingEntries"] == 0
        assert audit["parkedChanges"] == 0
        assert audit["entries"] == len(paid) + 1


async def test_concurrent_creates_give_one_wallet_and_one_grant(wallet_srv: WalletServer) -> None:
    org = f"race-{random.randrange(10**8)}"
    async with httpx.AsyncClient(base_url=wallet_srv.url, headers=wallet_srv.headers) as http:
        answers = await asyncio.gather(
            *(http.post("/v1/wallets", json={"org": org}) for _ in range(CLIENTS))
        )
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["totalBalance"] for a in answers} == {INTRO}
        audit = (await http.get(f"/v1/wallets/wallet-{org}/audit")).json()
    assert audit["consistent"]
    assert audit["entries"] == 1
