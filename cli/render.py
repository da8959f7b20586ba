"""``tawa render``: print the TawaService a catalog deploys as, for one environment.

The object printed is exactly what ``tawa deploy`` applies, so it can be piped
to ``kubectl apply -f -`` or committed for GitOps. Warnings go to stderr so the
output stays clean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from tawa.catalog import CatalogError, read_catalog, render_service
from tawa.cli import _output
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE, Format
from tawa.resource import Environment
from tawa.settings import CommonSettings


def render(
    path: Annotated[
        Path, typer.Argument(help="catalog-info.yaml, or the folder that holds it.")
    ] = Path("."),
    env: Annotated[
        Environment, typer.Option("--env", "-e", help="Environment to render for.")
    ] = Environment.SANDBOX,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
    image: Annotated[str | None, typer.Option(help="Prebuilt container image to deploy.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The Component to render, if several.")
    ] = None,
    output: Annotated[Format, typer.Option("--output", "-o", help="yaml or json.")] = Format.YAML,
) -> None:
    """Print the TawaService for a catalog and environment."""
    if not path.exists():
        _output.stderr().print(f"No catalog at {path}: the path does not exist.", markup=False)
        raise typer.Exit(EXIT_USAGE)
    errors = _output.stderr()
    try:
        catalog = read_catalog(path, name=name)
        component = catalog.component(name)
        service = render_service(
            component,
            environment=env,
            image=image,
            namespace=namespace,
            base_domain=CommonSettings().base_domain,
        )
    except CatalogError as exc:
        _output.print_problems(errors, exc.problems)
        raise typer.Exit(EXIT_INVALID) from None
    _output.print_problems(errors, catalog.warnings)

    manifest = service.manifest()
    if output is Format.JSON:
        typer.echo(json.dumps(manifest, indent=2))
    else:
        typer.echo(yaml.safe_dump(manifest, sort_keys=False, width=100), nl=False)


def register(app: typer.Typer) -> None:
    app.command("render")(render)
