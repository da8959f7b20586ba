"""``tawa domain``: custom domains bound to the service (DNS follows on deploy)."""

from __future__ import annotations

import typer

from tawa.cli._registry import EnvOption, ServiceOption, call, fail, service_name
from tawa.resource import Environment

domain_app = typer.Typer(help="Custom domains bound to the service.")


@domain_app.command("add")
def add(domain: str, env: EnvOption = Environment.SANDBOX, service: ServiceOption = None) -> None:
    """Bind DOMAIN to the service; the next deploy creates its DNS record."""
    name = service_name(service)
    bound = call(lambda registry: registry.bind_domain(domain, service=name, environment=env.value))
    typer.echo(f"Bound {bound.domain} to {name} in {env.value}; redeploy to create its DNS record.")


@domain_app.command("list")
def list_domains(env: EnvOption = Environment.SANDBOX, service: ServiceOption = None) -> None:
    """List the domains bound to the service."""
    name = service_name(service)
    found = call(lambda registry: registry.list_domains(service=name, environment=env.value))
    if not found:
        typer.echo(f"No custom domains for {name} in {env.value}.")
    for item in found:
        typer.echo(item.domain)


@domain_app.command("remove")
def remove(domain: str) -> None:
    """Unbind DOMAIN."""
    if not call(lambda registry: registry.unbind_domain(domain)):
        fail(f"{domain} is not bound.")
    typer.echo(f"Unbound {domain}.")


def register(app: typer.Typer) -> None:
    app.add_typer(domain_app, name="domain")
