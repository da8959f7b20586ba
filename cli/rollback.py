"""``tawa rollback``: run an earlier release's image again.

The operator owns the release, so rolling back is a change of the desired
state, not a ``helm rollback`` behind its back (the next drift check would
undo that): the TawaService is set to the image an earlier Helm revision ran
(dropping ``spec.source``), and the operator releases it as a new revision,
health checks and smoke tests included. The next ``tawa deploy`` takes the
service forward again. Configuration and credentials stay current: only the
code goes back.

Without ``--to`` the target is ``status.lastGoodRevision`` (the last one that
passed its smoke tests) when that is not the current revision, else the
revision before the current one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tawa.cli import _output
from tawa.cli._cluster import Cluster, ClusterError
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE
from tawa.cli._workloads import Revision, Workloads, target
from tawa.resource import Environment


def rollback(
    name: Annotated[str | None, typer.Argument(help="Service name; default the catalog's.")] = None,
    to: Annotated[
        int | None, typer.Option("--to", help="Helm revision to go back to.", min=1)
    ] = None,
    env: Annotated[
        Environment | None, typer.Option("--env", "-e", help="Environment (default sandbox).")
    ] = None,
    prod: Annotated[bool, typer.Option("--prod", help="Production.")] = False,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
) -> None:
    """Deploy the image of an earlier release again."""
    name, namespace = target(name, env=env, prod=prod, namespace=namespace)
    errors, console = _output.stderr(), _output.stdout()
    try:
        found = Cluster().read_service(name, namespace)
        if found is None:
            errors.print(f"No TawaService {name} in namespace {namespace}.")
            raise typer.Exit(EXIT_INVALID)
        workloads = Workloads()
        history = workloads.history(name, namespace)
        chosen = _choose(history, to=to, good=(found.get("status") or {}).get("lastGoodRevision"))
        # Compared with the desired image, not the release's: after an automatic
        # rollback the release runs the old image while the spec still asks
        # for the failing one.
        if found.get("spec", {}).get("image") == chosen.image:
            console.print(f"{namespace}/{name} is already set to {chosen.image}.")
            return
        workloads.deploy_image(found, chosen.image)
    except ClusterError as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    console.print(
        f"Rolling {namespace}/{name} back to revision {chosen.number} ({chosen.image}); the "
        "operator releases it as a new revision. Follow it with `tawa status`; "
        "`tawa deploy` takes it forward again."
    )


def _choose(history: list[Revision], *, to: int | None, good: int | None) -> Revision:
    errors = _output.stderr()
    if len(history) < 1 or (to is None and len(history) < 2):
        errors.print("The release has no earlier revision to go back to.")
        raise typer.Exit(EXIT_INVALID)
    by_number = {revision.number: revision for revision in history}
    current = history[-1].number
    wanted = to or (good if good and good != current and good in by_number else None)
    wanted = wanted or history[-2].number
    if wanted not in by_number:
        kept = ", ".join(str(n) for n in by_number)
        errors.print(f"Revision {wanted} is not in the release's history (kept: {kept}).")
        raise typer.Exit(EXIT_USAGE)
    return by_number[wanted]


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback)
