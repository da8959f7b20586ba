"""``tawa scopes``: ask for, approve and list access to another service's database.

The consumer runs ``tawa scopes request --from OWNER`` in its own folder; the
owner must list it under ``spec.scopes[].allowedConsumers`` (reference 2.5.4).
Within one org the grant is approved at once; otherwise an org admin runs
``tawa scopes approve ID``. The credentials arrive on the consumer's next deploy.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tawa.cli._registry import EnvOption, ServiceOption, call, service_name
from tawa.clients.registry import Grant, RegistryClient
from tawa.resource import Environment

scopes_app = typer.Typer(help="Access to other services' databases (scope grants).")


class Resource(StrEnum):
    MONGODB = "mongodb"
    REDIS = "redis"
    NEO4J = "neo4j"


class Access(StrEnum):
    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"


def _line(grant: Grant) -> str:
    database = f" ({grant.database})" if grant.database else ""
    return (
        f"{grant.id}  {grant.consumer} -> {grant.owner} {grant.resource}{database} "
        f"{grant.access}  {grant.status}"
    )


@scopes_app.command("request")
def request(
    owner: Annotated[str, typer.Option("--from", help="The service that owns the database.")],
    resource: Annotated[Resource, typer.Option("--resource")],
    access: Annotated[Access, typer.Option("--access")] = Access.READ_ONLY,
    database: Annotated[str | None, typer.Option("--database")] = None,
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
) -> None:
    """Ask OWNER for access to its database."""
    consumer = service_name(service)
    grant = call(
        lambda registry: registry.request_grant(
            environment=env.value,
            owner=owner,
            consumer=consumer,
            resource=resource.value,
            access=access.value,
            database=database,
        )
    )
    typer.echo(_line(grant))
    if grant.status == "pending":
        typer.echo(f"Waiting for an admin of {owner}'s org: tawa scopes approve {grant.id}")
    else:
        typer.echo("Approved; the credentials arrive with your next deploy.")


@scopes_app.command("approve")
def approve(grant_id: str) -> None:
    """Approve a pending grant (org admins)."""
    grant = call(lambda registry: registry.approve_grant(grant_id, approved_by="tawa-cli"))
    typer.echo(_line(grant))


@scopes_app.command("revoke")
def revoke(grant_id: str) -> None:
    """Revoke a grant; the consumer loses access on its next deploy."""
    typer.echo(_line(call(lambda registry: registry.revoke_grant(grant_id))))


@scopes_app.command("list")
def list_grants(
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every grant, not only this service's.")
    ] = False,
) -> None:
    """List the grants this service holds or gives (or every grant with --all)."""

    name = None if every else service_name(service)

    async def _fetch(registry: RegistryClient) -> list[Grant]:
        if name is None:
            return await registry.list_grants(environment=env.value)
        held = await registry.list_grants(environment=env.value, consumer=name)
        given = await registry.list_grants(environment=env.value, owner=name)
        return held + given

    grants = call(_fetch)
    if not grants:
        typer.echo(f"No scope grants in {env.value}.")
    for grant in grants:
        typer.echo(_line(grant))


def register(app: typer.Typer) -> None:
    app.add_typer(scopes_app, name="scopes")
