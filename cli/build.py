"""``tawa build``: show what the cluster's build of this folder will use.

Images are built in the cluster from a pushed commit (``tawa deploy``), not
here. ``--print-dockerfile`` prints the Dockerfile that build uses: the
repository's own when the folder holds one, else the one Tawa generates from
the catalog; which of the two goes to stderr, so stdout can be redirected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tawa import dockerfiles
from tawa.catalog import CatalogError, read_catalog
from tawa.cli import _output
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE
from tawa.resource import TawaServiceSpec


def build(
    path: Annotated[
        Path, typer.Argument(help="The folder holding catalog-info.yaml (the build context).")
    ] = Path("."),
    print_dockerfile: Annotated[
        bool, typer.Option("--print-dockerfile", help="Print the Dockerfile the build uses.")
    ] = False,
    print_dockerignore: Annotated[
        bool, typer.Option("--print-dockerignore", help="Print the .dockerignore it uses.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="The Component, if several.")] = None,
) -> None:
    """Print the Dockerfile (or .dockerignore) a deploy of this folder builds with."""
    errors = _output.stderr()
    if print_dockerfile == print_dockerignore:
        errors.print(
            "Images are built in the cluster by `tawa deploy`; give --print-dockerfile or "
            "--print-dockerignore to see what that build uses."
        )
        raise typer.Exit(EXIT_USAGE)
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        errors.print(f"No folder at {path}.", markup=False)
        raise typer.Exit(EXIT_USAGE)

    filename = "Dockerfile" if print_dockerfile else ".dockerignore"
    own = folder / filename
    if own.is_file():
        errors.print(f"Using the repository's own {own}.", markup=False)
        typer.echo(own.read_text(encoding="utf-8"), nl=False)
        return
    spec = _spec(folder, name=name)
    errors.print(
        f"No {filename} in {folder}: Tawa generates this one for framework {spec.framework}.",
        markup=False,
    )
    made = dockerfiles.dockerfile(spec) if print_dockerfile else dockerfiles.dockerignore(spec)
    typer.echo(made, nl=False)


def _spec(folder: Path, *, name: str | None) -> TawaServiceSpec:
    errors = _output.stderr()
    try:
        catalog = read_catalog(folder, name=name)
        component = catalog.component(name)
    except CatalogError as exc:
        _output.print_problems(errors, exc.problems)
        raise typer.Exit(EXIT_INVALID) from None
    if component.framework_is_assumed:
        errors.print(
            "insureco.io/framework is not set and the folder has no Dockerfile: "
            "there is nothing to build from; set the annotation or commit a Dockerfile."
        )
        raise typer.Exit(EXIT_INVALID)
    # The environment does not change the image; any one validates the spec.
    return TawaServiceSpec.model_validate({**component.spec, "environment": "sandbox"})


def register(app: typer.Typer) -> None:
    app.command("build")(build)
