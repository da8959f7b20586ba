"""The ledger: every balance change as an entry, written atomically and once.

Two collections. ``wallets`` holds one document per org with the per-type
balances; ``entries`` holds every change, unique on ``(walletId, key)``.

Why the write is safe without multi-document transactions
---------------------------------------------------------

A change touches two documents (the entry and the wallet), and MongoDB is only
atomic per document. So each request goes through three steps, and the
*wallet document* is the single place where every race is decided:

1. **Claim the key.** Insert the entry as ``pending`` under a fresh id. The
   unique index makes this the permanent idempotency record: a second request
   with the same key fails here and becomes a replay.
2. **Apply.** One conditional ``find_one_and_update`` on the wallet: ``$inc``
   the balances and ``$push`` ``{id, changes}`` onto ``wallet.pending``. The
   filter carries the balance guards (:func:`.tokens.charge_guards`, so no
   balance goes below zero and the spend order holds) and two fences: the id
   is neither in ``pending`` (not applied twice) nor in ``aborted``.
3. **Finalise.** Mark the entry ``applied`` with its changes, then ``$pull``
   the id from ``wallet.pending``.

A charge that cannot be paid deletes its pending entry: no trace. A crash can
stop a request between any two steps; whoever finds a pending entry later (a
replay of the same key, or the sweep) settles it by reading the wallet:

- id in ``wallet.pending``: the apply happened, the split is recorded there,
  so finish step 3. Any number of settlers may do this; both writes are
  idempotent.
- id not there: the apply has not happened. Only the request that inserted
  the entry ever applies it, so a settler must not apply; once the entry is
  older than the lease it *aborts* it instead: push the id onto
  ``wallet.aborted`` on condition that it is not in ``pending``, then delete
  the entry. Step 2's filter excludes aborted ids, so a request that was only
  slow (not dead) can no longer apply after the abort, and exactly one of
  "apply" and "abort" wins, decided on the one wallet document.

Hence, after settling: balance per type == sum of the applied entries'
changes plus the changes parked in ``wallet.pending``
(:meth:`Ledger.audit`). Aborted ids are kept a day, far longer than any
request lives, then pruned.

MongoDB calls are blocking; the API calls into this module from a thread pool.
The in-process engine (mongomock) is not thread-safe, so its collections are
wrapped to serialise every call, which gives it MongoDB's per-document
atomicity.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from tawa.wallet.errors import (
    DuplicateKeyConflict,
    InsufficientFunds,
    InvalidRequest,
    RequestInProgress,
    StoreUnavailable,
    WalletNotFound,
)
from tawa.wallet.tokens import (
    CHARGE_KINDS,
    CREDIT_TYPES,
    INTRO_GRANT,
    Changes,
    Kind,
    TokenType,
    charge_guards,
    checked_amount,
    plan_charge,
    spendable,
)

PENDING = "pending"
APPLIED = "applied"
GRANT_KEY = "grant:intro"
ABORTED_RETENTION = timedelta(days=1)
_CONTENTION_ATTEMPTS = 200
Clock = Callable[[], datetime]


def wallet_id_for(org: str) -> str:
    return f"wallet-{org}"


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """One requested change, before it is recorded."""

    wallet_id: str
    key: str
    kind: Kind
    amount: int
    token_type: TokenType | None = None
    """Credits only: which type receives the tokens."""
    service: str | None = None
    environment: str | None = None
    route: str | None = None
    reason: str | None = None
    reference_id: str | None = None

    def fingerprint(self) -> str:
        """What must match for a reused key to count as the same request."""
        body = {
            "kind": self.kind.value,
            "amount": self.amount,
            "tokenType": self.token_type.value if self.token_type else None,
            "service": self.service,
            "environment": self.environment,
            "route": self.route,
            "reason": self.reason,
            "referenceId": self.reference_id,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def document(self, entry_id: str, *, org: str, now: datetime) -> dict[str, Any]:
        return {
            "_id": entry_id,
            "walletId": self.wallet_id,
            "org": org,
            "key": self.key,
            "fingerprint": self.fingerprint(),
            "state": PENDING,
            "kind": self.kind.value,
            "amount": self.amount,
            "tokenType": self.token_type.value if self.token_type else None,
            "service": self.service,
            "environment": self.environment,
            "route": self.route,
            "reason": self.reason,
            "referenceId": self.reference_id,
            "createdAt": now,
        }


@dataclass(frozen=True, slots=True)
class Recorded:
    entry: dict[str, Any]
    replayed: bool = False


@dataclass
class _Guarded:
    """Serialises every call into a collection that is not thread-safe."""

    collection: Any
    lock: threading.Lock | contextlib.nullcontext[None] = field(
        default_factory=contextlib.nullcontext
    )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.collection, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                result = method(*args, **kwargs)
                # Cursors read lazily; drain them while the lock is held.
                return list(result) if name in ("find", "aggregate") else result

        return call


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        raise StoreUnavailable("the wallet store is unavailable; retry shortly") from exc


class Ledger:
    """Wallets and their entries on one MongoDB database."""

    def __init__(
        self,
        database: Any,
        *,
        thread_safe: bool = True,
        lease_seconds: float = 15.0,
        replay_wait_seconds: float = 2.0,
        intro_grant: int = INTRO_GRANT,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        lock: Any = contextlib.nullcontext() if thread_safe else threading.Lock()
        self.wallets = _Guarded(database["wallets"], lock)
        self.entries = _Guarded(database["entries"], lock)
        self.lease = timedelta(seconds=lease_seconds)
        self.replay_wait = replay_wait_seconds
        self.intro_grant = intro_grant
        self.clock = clock

    def ensure_indexes(self) -> None:
        with _store_errors():
            self.entries.create_index(
                [("walletId", ASCENDING), ("key", ASCENDING)], unique=True, name="wallet_key"
            )
            self.entries.create_index([("walletId", ASCENDING), ("_id", DESCENDING)])
            self.entries.create_index([("state", ASCENDING), ("createdAt", ASCENDING)])

    # --- wallets ---------------------------------------------------------------------------

    def ensure_wallet(self, org: str, *, name: str | None = None) -> dict[str, Any]:
        """The org's wallet, created once with the intro grant.

        The grant entry goes in first, keyed by a fixed key, and the wallet
        second with ``$setOnInsert``: concurrent calls converge on one entry
        and one wallet, and a crash in between leaves an entry that the next
        call completes, never a balance without its entry.
        """
        wallet_id, now = wallet_id_for(org), self.clock()
        grant = EntryRequest(
            wallet_id,
            GRANT_KEY,
            Kind.GRANT,
            self.intro_grant,
            token_type=TokenType.INTRO,
            reason="intro tokens for a new org (hosting only)",
        )
        entry = grant.document(str(ObjectId()), org=org, now=now)
        entry.update(state=APPLIED, changes={TokenType.INTRO.value: self.intro_grant})
        self._upsert({"walletId": wallet_id, "key": GRANT_KEY}, entry, self.entries)
        # The balance comes from the stored grant, so a changed setting can never
        # give a wallet a balance its ledger does not explain.
        granted = self._entry_by_key(wallet_id, GRANT_KEY)
        assert granted is not None
        wallet = {
            "_id": wallet_id,
            "org": org,
            "name": name or org,
            "balances": {t.value: 0 for t in TokenType} | granted["changes"],
            "pending": [],
            "aborted": [],
            "createdAt": now,
        }
        self._upsert({"_id": wallet_id}, wallet, self.wallets)
        return self.wallet(wallet_id)

    def _upsert(self, match: dict[str, Any], document: dict[str, Any], into: _Guarded) -> None:
        with _store_errors(), contextlib.suppress(DuplicateKeyError):
            # Two concurrent upserts may both miss and race to insert; the loser
            # hits the unique index, and the winner's document is the one we want.
            # The filter's fields are inserted from the filter itself; MongoDB refuses
            # to have them set twice.
            fresh = {k: v for k, v in document.items() if k not in match}
            into.update_one(match, {"$setOnInsert": fresh}, upsert=True)

    def wallet(self, wallet_id: str) -> dict[str, Any]:
        with _store_errors():
            wallet: dict[str, Any] | None = self.wallets.find_one({"_id": wallet_id})
        if wallet is None:
            raise WalletNotFound(f"there is no wallet {wallet_id!r}")
        return wallet

    # --- writes ------------------------------------------------------------------------------

    def credit(self, request: EntryRequest) -> Recorded:
        """Add purchased or earned tokens (intro tokens come only with the grant)."""
        checked_amount(request.amount)
        if request.kind is not Kind.CREDIT or request.token_type not in CREDIT_TYPES:
            raise InvalidRequest("a credit adds purchased or earned tokens")
        return self._record(request)

    def charge(self, request: EntryRequest) -> Recorded:
        """Take hosting or transaction gas, in spend order, or nothing at all."""
        checked_amount(request.amount)
        if request.kind not in CHARGE_KINDS:
            raise InvalidRequest("a charge is hosting or transaction gas")
        return self._record(request)

    def _record(self, request: EntryRequest) -> Recorded:
        first_read = self.wallet(request.wallet_id)
        org = first_read["org"]
        fresh: dict[str, Any] | None = first_read
        for _ in range(_CONTENTION_ATTEMPTS):
            # Step 1: claim the key. A duplicate means this is a replay.
            entry = request.document(str(ObjectId()), org=org, now=self.clock())
            try:
                with _store_errors():
                    self.entries.insert_one(entry)
            except DuplicateKeyError:
                earlier = self._entry_by_key(request.wallet_id, request.key)
                if earlier is None:
                    continue  # the earlier attempt was aborted meanwhile
                if earlier["fingerprint"] != entry["fingerprint"]:
                    raise DuplicateKeyConflict(
                        f"idempotency key {request.key!r} was already used with another body",
                        details={"entryId": earlier["_id"]},
                    ) from None
                settled = self._settle(earlier, wait=True)
                if settled is not None:
                    return Recorded(settled, replayed=True)
                continue  # the earlier attempt left no trace; record this one

            applied = self._apply(entry, request, wallet=fresh)
            fresh = None
            if applied is not None:
                return Recorded(applied)
            # A settler aborted our entry because we were slower than the lease.
        raise RequestInProgress(f"the request with key {request.key!r} could not be settled")

    def _apply(
        self, entry: dict[str, Any], request: EntryRequest, *, wallet: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Steps 2 and 3 for a freshly claimed entry; ``None`` if it was aborted.

        The first round plans on the caller's read of the wallet (one round trip
        fewer); a miss reads it again.
        """
        entry_id, wallet_id = entry["_id"], request.wallet_id
        for _ in range(_CONTENTION_ATTEMPTS):
            wallet = wallet or self.wallet(wallet_id)
            if any(a["id"] == entry_id for a in wallet.get("aborted", [])):
                return None
            changes = self._plan(wallet, request)
            if changes is None:
                self._discard(entry_id)
                raise InsufficientFunds(
                    f"{wallet_id} cannot pay {request.amount:,} tokens of {request.kind} gas: "
                    f"{spendable(wallet['balances'], request.kind):,} are spendable for it",
                    details={
                        "required": request.amount,
                        "spendable": spendable(wallet["balances"], request.kind),
                    },
                )
            match = {
                "_id": wallet_id,
                "pending.id": {"$ne": entry_id},
                "aborted.id": {"$ne": entry_id},
            }
            if request.kind in CHARGE_KINDS:
                match |= charge_guards(wallet["balances"], changes, request.kind)
            update = {
                "$inc": {f"balances.{t}": v for t, v in changes.items()},
                "$push": {"pending": {"id": entry_id, "changes": changes, "at": self.clock()}},
            }
            try:
                with _store_errors():
                    after = self.wallets.find_one_and_update(
                        match, update, return_document=ReturnDocument.AFTER
                    )
            except StoreUnavailable:
                # The write may or may not have landed: settle as its owner.
                self._settle(entry, wait=False, owner=True)
                raise
            if after is not None:
                return self._finalize(entry, changes, balances_after=after["balances"])
            # Missed: a guard moved under us (contention) or we were aborted; re-plan.
            wallet = None
        raise RequestInProgress(f"{wallet_id} is too contended; retry the request")

    def _plan(self, wallet: dict[str, Any], request: EntryRequest) -> Changes | None:
        if request.kind in CHARGE_KINDS:
            return plan_charge(wallet["balances"], request.amount, request.kind)
        assert request.token_type is not None
        return {request.token_type.value: request.amount}

    def _finalize(
        self,
        entry: dict[str, Any],
        changes: Changes,
        *,
        balances_after: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Step 3. The owner (who knows ``balances_after``) writes unconditionally,
        so its figures land even if a replay finished the entry first; a
        settler only marks an entry still pending."""
        entry_id = entry["_id"]
        done: dict[str, Any] = {"state": APPLIED, "changes": changes, "appliedAt": self.clock()}
        match: dict[str, Any] = {"_id": entry_id, "state": PENDING}
        if balances_after is not None:
            done["balancesAfter"] = balances_after
            match = {"_id": entry_id}
        with _store_errors():
            marked = self.entries.update_one(match, {"$set": done})
            self.wallets.update_one(
                {"_id": entry["walletId"]}, {"$pull": {"pending": {"id": entry_id}}}
            )
            if marked.matched_count == 1 and "key" in entry:
                return entry | done
            final = self.entries.find_one({"_id": entry_id})  # another settler was first
        assert final is not None
        return dict(final)

    def _discard(self, entry_id: str) -> None:
        with _store_errors():
            self.entries.delete_one({"_id": entry_id, "state": PENDING})

    # --- settling ----------------------------------------------------------------------------

    def _settle(
        self, entry: dict[str, Any], *, wait: bool, owner: bool = False
    ) -> dict[str, Any] | None:
        """The final entry, or ``None`` if the attempt was aborted (no trace).

        ``wait`` lets a replay wait for a request still in flight; ``owner``
        is the inserting request itself, which may abort at once because it
        knows it will not apply.
        """
        if entry.get("state") == APPLIED:
            return entry  # the common replay: nothing to settle
        deadline = time.monotonic() + (self.replay_wait if wait else 0)
        entry_id, wallet_id = entry["_id"], entry["walletId"]
        while True:
            with _store_errors():
                current = self.entries.find_one({"_id": entry_id})
                wallet = self.wallets.find_one({"_id": wallet_id})
            if current is None:
                return None
            if current["state"] == APPLIED:
                return dict(current)
            parked = next(
                (p for p in (wallet or {}).get("pending", []) if p["id"] == entry_id), None
            )
            if parked is not None:
                return self._finalize(current, parked["changes"])
            if owner or self.clock() - current["createdAt"] >= self.lease:
                if self._abort(entry_id, wallet_id):
                    return None
                continue  # it was applied just now; the next round finalises it
            if time.monotonic() >= deadline:
                raise RequestInProgress(
                    f"an earlier request with key {current['key']!r} is still being recorded; "
                    "retry in a moment"
                )
            time.sleep(0.01)

    def _abort(self, entry_id: str, wallet_id: str) -> bool:
        """Fence ``entry_id`` out of the wallet and delete it, unless it was applied."""
        now = self.clock()
        with _store_errors():
            fenced = self.wallets.update_one(
                {"_id": wallet_id, "pending.id": {"$ne": entry_id}},
                {"$push": {"aborted": {"id": entry_id, "at": now}}},
            )
            if fenced.matched_count == 0 and self.wallets.find_one({"_id": wallet_id}):
                return False
            self.entries.delete_one({"_id": entry_id, "state": PENDING})
            self.wallets.update_one(
                {"_id": wallet_id},
                {"$pull": {"aborted": {"at": {"$lt": now - ABORTED_RETENTION}}}},
            )
        return True

    def sweep(self) -> int:
        """Settle what crashed requests left behind; the number of entries settled."""
        cutoff = self.clock() - self.lease
        settled: set[str] = set()
        with _store_errors():
            stale = self.entries.find({"state": PENDING, "createdAt": {"$lt": cutoff}})
        for entry in stale:
            self._settle(entry, wait=False)
            settled.add(entry["_id"])
        # Left: changes parked on a wallet whose entry was marked but never unparked.
        with _store_errors():
            parked = self.wallets.find({"pending.at": {"$lt": cutoff}})
        for wallet in parked:
            for record in wallet["pending"]:
                if record["at"] < cutoff:
                    stub = {"_id": record["id"], "walletId": wallet["_id"]}
                    self._finalize(stub, record["changes"])
                    settled.add(record["id"])
        return len(settled)

    def _entry_by_key(self, wallet_id: str, key: str) -> dict[str, Any] | None:
        with _store_errors():
            entry: dict[str, Any] | None = self.entries.find_one(
                {"walletId": wallet_id, "key": key}
            )
        return entry
