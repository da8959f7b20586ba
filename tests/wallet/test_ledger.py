"""The ledger's write protocol: idempotency, spend order, and crashes between steps.

Crashes are injected at the store boundary: a collection that dies (or loses
its connection) once, before or after running one operation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from tawa.wallet import reports
from tawa.wallet.errors import (
    DuplicateKeyConflict,
    InsufficientFunds,
    RequestInProgress,
    StoreUnavailable,
    WalletNotFound,
)
from tawa.wallet.ledger import EntryRequest, Ledger
from tawa.wallet.tokens import Kind, TokenType

W = "wallet-acme"


class Crash(Exception):
    """The process died here."""


class Faulty:
    """A collection whose ``op`` fails once: before running, after running, or runs a hook."""

    def __init__(
        self,
        collection: Any,
        op: str,
        *,
        when: str = "before",
        error: type[Exception] = Crash,
        hook: Callable[[], None] | None = None,
    ) -> None:
        self.collection, self.op, self.when, self.error, self.hook = (
            collection,
            op,
            when,
            error,
            hook,
        )
        self.spent = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.collection, name)
        if name != self.op or self.spent:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.spent = True
            if self.when == "hook":
                self.hook()
                return real(*args, **kwargs)
            if self.when == "after":
                real(*args, **kwargs)
            raise self.error(f"injected failure in {name}")

        return call


def inject(ledger: Ledger, collection: str, op: str, **how: Any) -> None:
    guarded = getattr(ledger, collection)
    guarded.collection = Faulty(guarded.collection, op, **how)


def hosting(key: str, amount: int = 5) -> EntryRequest:
    return EntryRequest(W, key, Kind.HOSTING, amount, service="api", environment="sandbox")


def transaction(key: str, amount: int = 5) -> EntryRequest:
    return EntryRequest(W, key, Kind.TRANSACTION, amount, service="api", environment="sandbox")


def purchase(key: str, amount: int) -> EntryRequest:
    return EntryRequest(
        W, key, Kind.CREDIT, amount, token_type=TokenType.PURCHASED, reason="bought"
    )


def balances(ledger: Ledger) -> dict[str, int]:
    return dict(ledger.wallet(W)["balances"])


def assert_consistent(ledger: Ledger) -> dict[str, Any]:
    audit = reports.audit(ledger, W)
    assert audit["consistent"], audit
    return audit


def test_a_new_wallet_holds_the_intro_grant_once(ledger: Ledger) -> None:
    first = ledger.ensure_wallet("acme", name="Acme")
    again = ledger.ensure_wallet("acme", name="Renamed")
    assert first["balances"] == {"intro": 50_000, "purchased": 0, "earned": 0}
    assert again == first
    assert assert_consistent(ledger)["entries"] == 1


def test_concurrent_creates_give_one_wallet_and_one_grant(ledger: Ledger) -> None:
    threads = [threading.Thread(target=ledger.ensure_wallet, args=("acme",)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert balances(ledger)["intro"] == 50_000
    assert assert_consistent(ledger)["entries"] == 1


def test_a_replayed_key_returns_the_first_result_and_changes_nothing(ledger: Ledger) -> None:
    ledger.ensure_wallet("acme")
    first = ledger.charge(hosting("h1"))
    again = ledger.charge(hosting("h1"))
    assert again.replayed
    assert again.entry["_id"] == first.entry["_id"]
    assert balances(ledger)["intro"] == 50_000 - 5
    with pytest.raises(DuplicateKeyConflict):
        ledger.charge(hosting("h1", amount=6))
    assert_consistent(ledger)


@pytest.mark.parametrize(
    ("credits", "request_", "changes"),
    [
        ({}, hosting("h", 7), {"intro": -7}),
        ({"purchased": 10}, transaction("t", 7), {"purchased": -7}),
        ({"purchased": 3, "earned": 10}, transaction("t", 7), {"purchased": -3, "earned": -4}),
        ({"purchased": 10}, hosting("h", 50_005), {"intro": -50_000, "purchased": -5}),
    ],
    ids=["hosting-intro", "api-skips-intro", "purchased-then-earned", "intro-then-purchased"],
)
def test_charges_follow_the_spend_order(
    ledger: Ledger, credits: dict[str, int], request_: EntryRequest, changes: dict[str, int]
) -> None:
    ledger.ensure_wallet("acme")
    for token_type, amount in credits.items():
        ledger.credit(
            EntryRequest(
                W,
                f"c-{token_type}",
                Kind.CREDIT,
                amount,
                token_type=TokenType(token_type),
                reason="r",
            )
        )
    assert ledger.charge(request_).entry["changes"] == changes
    assert_consistent(ledger)


def test_intro_tokens_never_pay_transactions(ledger: Ledger) -> None:
    ledger.ensure_wallet("acme")
    with pytest.raises(InsufficientFunds):
        ledger.charge(transaction("t1", 1))


def test_a_charge_that_cannot_be_paid_leaves_no_trace(ledger: Ledger) -> None:
    ledger.ensure_wallet("acme")
    with pytest.raises(InsufficientFunds):
        ledger.charge(hosting("big", 50_001))
    assert balances(ledger)["intro"] == 50_000
    assert assert_consistent(ledger)["entries"] == 1
    assert ledger.entries.find_one({"key": "big"}) is None
    # The key is free again: once funds arrive, the same request goes through.
    ledger.credit(purchase("p1", 1))
    assert ledger.charge(hosting("big", 50_001)).entry["changes"] == {
        "intro": -50_000,
        "purchased": -1,
    }


def test_a_credit_landing_mid_charge_is_spent_in_order(ledger: Ledger) -> None:
    """The plan drains earned because purchased is empty; a purchase lands before the write."""
    ledger.ensure_wallet("acme")
    ledger.credit(EntryRequest(W, "e", Kind.CREDIT, 10, token_type=TokenType.EARNED, reason="r"))
    inject(
        ledger,
        "wallets",
        "find_one_and_update",
        when="hook",
        hook=lambda: ledger.wallets.collection.collection.update_one(
            {"_id": W}, {"$inc": {"balances.purchased": 10}}
        ),
    )
    # (The hook bypasses the ledger, so we only look at the charge's split.)
    assert ledger.charge(transaction("t", 4)).entry["changes"] == {"purchased": -4}


def test_unknown_wallets_are_reported(ledger: Ledger) -> None:
    with pytest.raises(WalletNotFound):
        ledger.charge(hosting("h"))


def test_a_crash_after_the_balance_moved_is_finished_by_the_replay(ledger: Ledger) -> None:
    ledger.ensure_wallet("acme")
    inject(ledger, "entries", "update_one")  # dies before marking the entry applied
    with pytest.raises(Crash):
        ledger.charge(hosting("h1"))
    assert reports.audit(ledger, W)["parkedChanges"] == 1

    again = ledger.charge(hosting("h1"))
    assert again.replayed
    assert balances(ledger)["intro"] == 50_000 - 5
    audit = assert_consistent(ledger)
    assert (audit["pendingEntries"], audit["parkedChanges"]) == (0, 0)


def test_a_crash_before_the_balance_moved_is_aborted_after_the_lease(
    ledger: Ledger, clock: Any
) -> None:
    ledger.ensure_wallet("acme")
    inject(ledger, "wallets", "find_one_and_update")  # dies after claiming the key
    with pytest.raises(Crash):
        ledger.charge(hosting("h1"))

    # Within the lease the first request may still be running: the replay waits.
    with pytest.raises(RequestInProgress):
        ledger.charge(hosting("h1"))
    clock.advance(seconds=16)
    again = ledger.charge(hosting("h1"))
    assert not again.replayed
    assert balances(ledger)["intro"] == 50_000 - 5
    assert assert_consistent(ledger)["pendingEntries"] == 0


def test_a_slow_request_aborted_by_another_replica_cannot_apply_afterwards(
    ledger: Ledger, database: Any, store_uri: str, clock: Any
) -> None:
    ledger.ensure_wallet("acme")
    replica = Ledger(database, thread_safe=True, lease_seconds=15, clock=clock)

    def stall_past_the_lease() -> None:
        clock.advance(seconds=16)
        assert replica.sweep() == 1  # the replica aborts the stalled entry

    inject(ledger, "wallets", "find_one_and_update", when="hook", hook=stall_past_the_lease)
    recorded = ledger.charge(hosting("h1"))  # its first write is fenced out; it records afresh
    assert balances(ledger)["intro"] == 50_000 - 5
    assert ledger.entries.find_one({"key": "h1"})["_id"] == recorded.entry["_id"]
    assert_consistent(ledger)


def test_a_replay_that_finishes_the_entry_first_keeps_the_owners_figures(
    ledger: Ledger, database: Any, clock: Any
) -> None:
    ledger.ensure_wallet("acme")
    replica = Ledger(database, thread_safe=True, lease_seconds=15, clock=clock)
    replays: list[Any] = []
    # Between the owner's balance update and its finalise, a replay on another
    # replica finds the entry applied-but-pending and finishes it.
    inject(
        ledger,
        "entries",
        "update_one",
        when="hook",
        hook=lambda: replays.append(replica.charge(hosting("h1"))),
    )
    first = ledger.charge(hosting("h1"))
    assert replays[0].replayed
    assert replays[0].entry["_id"] == first.entry["_id"]
    assert first.entry["balancesAfter"]["intro"] == 50_000 - 5
    stored = ledger.entries.find_one({"key": "h1"})
    assert stored["balancesAfter"] == first.entry["balancesAfter"]
    assert balances(ledger)["intro"] == 50_000 - 5
    assert_consistent(ledger)


@pytest.mark.parametrize("landed", [True, False], ids=["write-landed", "write-lost"])
def test_a_lost_connection_during_the_write_is_settled_by_its_owner(
    ledger: Ledger, landed: bool
) -> None:
    ledger.ensure_wallet("acme")
    when = "after" if landed else "before"
    inject(ledger, "wallets", "find_one_and_update", when=when, error=AutoReconnect)
    with pytest.raises(StoreUnavailable):
        ledger.charge(hosting("h1"))
    assert balances(ledger)["intro"] == 50_000 - (5 if landed else 0)
    audit = assert_consistent(ledger)
    assert (audit["pendingEntries"], audit["parkedChanges"]) == (0, 0)

    again = ledger.charge(hosting("h1"))
    assert again.replayed is landed
    assert balances(ledger)["intro"] == 50_000 - 5


def test_the_sweep_settles_what_crashed_requests_left(ledger: Ledger, clock: Any) -> None:
    ledger.ensure_wallet("acme")
    inject(ledger, "entries", "update_one")
    with pytest.raises(Crash):
        ledger.charge(hosting("applied-not-finalised"))
    inject(ledger, "wallets", "find_one_and_update")
    with pytest.raises(Crash):
        ledger.charge(hosting("claimed-not-applied"))

    assert ledger.sweep() == 0  # nothing is old enough yet
    clock.advance(seconds=16)
    assert ledger.sweep() == 2
    audit = assert_consistent(ledger)
    assert (audit["entries"], audit["pendingEntries"], audit["parkedChanges"]) == (2, 0, 0)
    assert balances(ledger)["intro"] == 50_000 - 5


def test_concurrent_charges_never_overdraw(ledger: Ledger) -> None:
    ledger.ensure_wallet("acme")
    outcomes: list[str] = []

    def spend(i: int) -> None:
        try:
            ledger.charge(hosting(f"h{i}", 3_000))
            outcomes.append("paid")
        except InsufficientFunds:
            outcomes.append("refused")

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("paid") == 16  # 16 x 3,000 <= 50,000 < 17 x 3,000
    assert balances(ledger)["intro"] == 50_000 - 48_000
    assert_consistent(ledger)
