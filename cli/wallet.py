"""``tawa wallet``, ``tawa wallet buy`` and ``tawa gas``: an org's gas at a glance.

The wallet's address and the internal key come from ``TAWA_WALLET_URL`` and
``TAWA_INTERNAL_KEY``; the org is ``--org``, else ``TAWA_ORG``, else the owner
of the Component in ./catalog-info.yaml. Wallet failures end the command with
exit status 1 and the wallet's sentence.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from tawa.catalog import CatalogError, read_catalog
from tawa.cli._output import EXIT_USAGE, refusal, stdout
from tawa.cli._registry import fail
from tawa.clients.wallet import (
    Entry,
    Wallet,
    WalletClient,
    WalletClientError,
    WalletUnreachable,
    wallet_id,
)
from tawa.resource import NAME_PATTERN
from tawa.settings import CommonSettings

T = TypeVar("T")
MAX_PURCHASE = 10**12
_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_MAX_SLUG = 63

OrgOption = Annotated[
    str | None,
    typer.Option(
        "--org",
        "-o",
        envvar="TAWA_ORG",
        help="Org slug; default the owner in ./catalog-info.yaml.",
    ),
]

wallet_app = typer.Typer(
    help="The org's gas wallet: balances per token type and recent entries.",
    invoke_without_command=True,
)


def org_slug(given: str | None) -> str:
    if given:
        if not re.fullmatch(NAME_PATTERN, given) or len(given) > _MAX_SLUG:
            fail(
                f"--org {given!r} is not an org slug: use lowercase letters, digits and dashes.",
                EXIT_USAGE,
            )
        return given
    try:
        owner = read_catalog(Path.cwd()).component().spec.get("owner")
    except CatalogError as exc:
        first = exc.problems[0].message if exc.problems else "no usable catalog"
        fail(f"Cannot tell which org this is ({first}); pass --org ORG.", EXIT_USAGE)
    if not isinstance(owner, str):
        fail("The catalog names no owner; pass --org ORG.", EXIT_USAGE)
    return owner


def call(action: Callable[[WalletClient], Awaitable[T]]) -> T:
    """Run ``action`` with a wallet client; wallet errors end the command."""
    settings = CommonSettings()

    async def _run() -> T:
        key = settings.internal_key.get_secret_value()
        async with WalletClient(settings.wallet_url, internal_key=key) as client:
            return await action(client)

    try:
        return asyncio.run(_run())
    except WalletUnreachable as exc:
        fail(f"{exc.message}. Is TAWA_WALLET_URL right?")
    except WalletClientError as exc:
        fail(refusal("wallet", exc.message, exc.details))


@wallet_app.callback()
def show(
    ctx: typer.Context,
    org: OrgOption = None,
    entries: Annotated[int, typer.Option(min=0, max=200, help="Recent entries to list.")] = 10,
) -> None:
    """Show balances by token type and the most recent ledger entries."""
    ctx.obj = org
    if ctx.invoked_subcommand is not None:
        return
    slug = org_slug(org)

    async def fetch(client: WalletClient) -> tuple[Wallet, list[Entry]]:
        view = await client.wallet(wallet_id(slug))
        page = await client.ledger(wallet_id(slug), limit=max(entries, 1))
        return view, page.entries[:entries]

    view, recent = call(fetch)
    console = stdout()
    balances = Table(title=f"Wallet {wallet_id(slug)}", show_edge=False)
    for column in ("token type", "balance", "pays"):
        balances.add_column(column, justify="right" if column == "balance" else "left")
    pays = {"intro": "hosting only", "purchased": "hosting and API", "earned": "hosting and API"}
    for balance in view.balances:
        balances.add_row(balance.token_type, f"{balance.balance:,}", pays[balance.token_type])
    console.print(balances)
    console.print(f"Total {view.total_balance:,} tokens; {view.api_spendable:,} can pay API gas.")
    if recent:
        console.print(_entries_table(recent))


def _entries_table(entries: list[Entry]) -> Table:
    table = Table(title="Recent entries", show_edge=False)
    for column in ("time (UTC)", "kind", "tokens", "service", "detail"):
        table.add_column(column, justify="right" if column == "tokens" else "left")
    for entry in entries:
        signed = sum(entry.changes.values())
        where = f"{entry.service} ({entry.environment})" if entry.service else ""
        table.add_row(
            f"{entry.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            entry.kind,
            f"{signed:+,}",
            where,
            entry.reason or entry.route or "",
        )
    return table


@wallet_app.command("buy")
def buy(
    ctx: typer.Context,
    amount: Annotated[int, typer.Argument(min=1, max=MAX_PURCHASE, help="Tokens (1 = US$0.01).")],
    org: OrgOption = None,
    key: Annotated[
        str | None,
        typer.Option(help="Idempotency key; reuse it to retry a purchase without buying twice."),
    ] = None,
) -> None:
    """Record a purchase of AMOUNT tokens as purchased tokens.

    No payment is taken: payment providers are out of scope for Tawa, so this
    records the credit only (an operator's tool, it needs TAWA_INTERNAL_KEY).
    """
    slug = org_slug(org or ctx.obj)
    purchase_key = key or f"buy:{uuid.uuid4()}"
    entry = call(
        lambda client: client.credit(
            wallet_id(slug),
            amount=amount,
            token_type="purchased",  # noqa: S106 (a token type, not a secret)
            reason="tawa wallet buy",
            key=purchase_key,
        )
    )
    again = " (already recorded under this key)" if entry.replayed else ""
    typer.echo(f"Recorded {amount:,} purchased tokens for {slug}{again}; key {purchase_key}.")
    if entry.balances_after is not None:
        typer.echo(f"Balance now {sum(entry.balances_after.values()):,} tokens.")


def since_moment(text: str, *, now: datetime | None = None) -> datetime:
    """``24h``, ``7d``, ``2w`` back from now, or an ISO date or time (UTC if no zone)."""
    now = now or datetime.now(UTC)
    if match := _DURATION.match(text.strip()):
        count, unit = int(match.group(1)), _UNITS[match.group(2)]
        return now - timedelta(**{unit: count})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r}: write a duration like 24h, 7d, 2w or a date like 2026-03-01.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def gas(
    org: OrgOption = None,
    since: Annotated[str, typer.Option(help="Window: 24h, 7d, 2w, or an ISO date (UTC).")] = "30d",
) -> None:
    """Show gas spent by service and kind (hosting, transaction)."""
    slug, start = org_slug(org), since_moment(since)
    items = call(lambda client: client.spend(wallet_id(slug), since=start))
    console = stdout()
    if not items:
        console.print(f"No gas spent by {slug} since {start:%Y-%m-%d %H:%M} UTC.")
        return
    table = Table(title=f"Gas spent by {slug} since {start:%Y-%m-%d %H:%M} UTC", show_edge=False)
    for column in ("service", "environment", "kind", "tokens", "charges"):
        table.add_column(column, justify="right" if column in ("tokens", "charges") else "left")
    for item in items:
        table.add_row(
            item.service or "",
            item.environment or "",
            item.kind,
            f"{item.amount:,}",
            str(item.count),
        )
    console.print(table)
    console.print(f"Total {sum(i.amount for i in items):,} tokens.")


def register(app: typer.Typer) -> None:
    app.add_typer(wallet_app, name="wallet")
    app.command("gas")(gas)
