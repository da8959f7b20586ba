"""``tawa preflight``: check a catalog-info.yaml without deploying anything.

Exit status: 0 when the file is valid (warnings allowed), 1 when it is refused,
2 for a usage error such as a path that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tawa.catalog import Catalog, CatalogError, read_catalog
from tawa.cli import _output
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE, ReportFormat


def preflight(
    path: Annotated[
        Path, typer.Argument(help="catalog-info.yaml, or the folder that holds it.")
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="Check only the Component with this name.")
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--output", "-o", help="Report as text or JSON.")
    ] = ReportFormat.TEXT,
) -> None:
    """Check a catalog: every error and warning at once, with file, line and field."""
    if not path.exists():
        _output.stderr().print(f"No catalog at {path}: the path does not exist.", markup=False)
        raise typer.Exit(EXIT_USAGE)
    try:
        catalog = read_catalog(path, name=name)
    except CatalogError as exc:
        _report_refusal(exc, output)
        raise typer.Exit(EXIT_INVALID) from None
    _report_success(catalog, output)


def _report_refusal(exc: CatalogError, output: ReportFormat) -> None:
    if output is ReportFormat.JSON:
        body = {"valid": False, "problems": [p.to_dict() for p in exc.problems]}
        typer.echo(json.dumps(body, indent=2))
        return
    console = _output.stdout()
    _output.print_problems(console, exc.problems)
    console.print(
        f"✗ refused: {_output.plural(len(exc.errors), 'error')},"
        f" {_output.plural(len(exc.warnings), 'warning')}",
        style="bold red",
        markup=False,
    )


def _report_success(catalog: Catalog, output: ReportFormat) -> None:
    if output is ReportFormat.JSON:
        body = {
            "valid": True,
            "components": [c.name for c in catalog.components],
            "problems": [p.to_dict() for p in catalog.warnings],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    console = _output.stdout()
    _output.print_problems(console, catalog.warnings)
    names = [c.name for c in catalog.components]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    console.print(
        f"✓ {catalog.source}: {shown} ready to deploy"
        f" ({_output.plural(len(catalog.warnings), 'warning')})",
        style="bold green",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
