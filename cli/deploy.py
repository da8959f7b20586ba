"""``tawa deploy`` and ``tawa status``.

``deploy`` renders the catalog into a TawaService (the same object ``tawa
render`` prints), applies it server-side with field manager ``tawa`` into
``{name}-{env}`` (creating the namespace), and follows the operator's
conditions until the service is Ready or has failed. Exit status: 0 ready (or
applied, with ``--no-wait``), 1 refused, failed or timed out, 2 usage error.

``status`` shows the phase, URL, Helm revision and each condition.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from tawa.catalog import CatalogError, read_catalog, render_service
from tawa.cli import _output, _source
from tawa.cli._cluster import Cluster, ClusterError
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE
from tawa.resource import Environment, namespace_for
from tawa.settings import CommonSettings

_POLL_SECONDS = 0.5
_SILENCE_SECONDS = 20.0
"""How long without a status for this generation before asking about the operator."""
_NO_OPERATOR = (
    "No word from the operator yet: is `python -m tawa.operator` running against this cluster?"
)
_MARKS = {"True": ("✓", "green"), "False": ("✗", "red"), "Unknown": ("…", "yellow")}

PathArgument = Annotated[
    Path, typer.Argument(help="catalog-info.yaml, or the folder that holds it.")
]
EnvOption = Annotated[
    Environment | None, typer.Option("--env", "-e", help="Environment (default sandbox).")
]


def _environment(env: Environment | None, prod: bool) -> Environment:
    if prod and env not in (None, Environment.PROD):
        _output.stderr().print(f"--prod and --env {env} disagree; give one of them.")
        raise typer.Exit(EXIT_USAGE)
    return Environment.PROD if prod else env or Environment.SANDBOX


def deploy(
    path: PathArgument = Path("."),
    env: EnvOption = None,
    prod: Annotated[bool, typer.Option("--prod", help="Deploy to production.")] = False,
    image: Annotated[str | None, typer.Option(help="Prebuilt container image to deploy.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
    name: Annotated[str | None, typer.Option(help="The Component to deploy, if several.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the rollout until Ready or failed.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Ready.", min=1)] = 600.0,
    allow_dirty: Annotated[
        bool, typer.Option(help="Deploy HEAD although the work tree has uncommitted changes.")
    ] = False,
) -> None:
    """Apply the service to the cluster and follow it until it is Ready."""
    environment = _environment(env, prod)
    errors = _output.stderr()
    if not path.exists():
        errors.print(f"No catalog at {path}: the path does not exist.", markup=False)
        raise typer.Exit(EXIT_USAGE)
    try:
        catalog = read_catalog(path, name=name)
        component = catalog.component(name)
    except CatalogError as exc:
        _output.print_problems(errors, exc.problems)
        raise typer.Exit(EXIT_INVALID) from None
    # Without --image the cluster builds the work tree's commit (spec.source).
    source = None if image else _source.spec_or_exit(path, allow_dirty=allow_dirty)
    try:
        service = render_service(
            component,
            environment=environment,
            image=image,
            source=source,
            namespace=namespace,
            base_domain=CommonSettings().base_domain,
        )
    except CatalogError as exc:
        _output.print_problems(errors, exc.problems)
        raise typer.Exit(EXIT_INVALID) from None
    _output.print_problems(errors, catalog.warnings)

    manifest = service.manifest()
    meta = manifest["metadata"]
    console = _output.stdout()
    try:
        cluster = Cluster()
        if cluster.ensure_namespace(meta["namespace"]):
            console.print(f"Created namespace {meta['namespace']}.")
        applied = cluster.apply_service(manifest)
        generation = int(applied.get("metadata", {}).get("generation") or 1)
        console.print(
            f"Applied TawaService {meta['namespace']}/{meta['name']} "
            f"({environment}, generation {generation})."
        )
        if not wait:
            return
        final = _follow(cluster, meta["name"], meta["namespace"], generation, timeout, console)
    except ClusterError as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    _conclude(final, timeout, console, errors)


def status(
    name: Annotated[str | None, typer.Argument(help="Service name; default the catalog's.")] = None,
    env: EnvOption = None,
    prod: Annotated[bool, typer.Option("--prod", help="Production.")] = False,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
) -> None:
    """Show a service's phase, URL, Helm revision and conditions."""
    environment = _environment(env, prod)
    errors = _output.stderr()
    if name is None:
        try:
            name = read_catalog(Path(".")).component().name
        except CatalogError:
            errors.print("Give a service NAME, or run this next to its catalog-info.yaml.")
            raise typer.Exit(EXIT_USAGE) from None
    namespace = namespace or namespace_for(name, environment)
    try:
        found = Cluster().read_service(name, namespace)
    except ClusterError as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    if found is None:
        errors.print(
            f"No TawaService {name} in namespace {namespace}; deploy it with `tawa deploy`."
        )
        raise typer.Exit(EXIT_INVALID)
    _output.stdout().print(_summary(found, working=False))


def _follow(
    cluster: Cluster, name: str, namespace: str, generation: int, timeout: float, console: Console
) -> dict[str, Any] | None:
    """Poll the service until it settles for ``generation``; the last object seen."""
    started = time.monotonic()
    seen: dict[str, Any] | None = None
    printed: dict[str, tuple[str, str | None]] = {}
    live = Live(console=console, transient=True) if console.is_terminal else None
    with live or contextlib.nullcontext():
        while time.monotonic() < started + timeout:
            seen = cluster.read_service(name, namespace)
            if seen is None:
                return None
            observed = int((seen.get("status") or {}).get("observedGeneration") or 0)
            silent = observed < generation and time.monotonic() - started > _SILENCE_SECONDS
            if live is not None:
                live.update(_summary(seen, working=True, note=_NO_OPERATOR if silent else None))
            else:
                _print_changes(seen, printed, console)
                if silent and "operator" not in printed:
                    printed["operator"] = ("", None)
                    console.print(_NO_OPERATOR, markup=False)
            if _settled(seen, generation):
                break
            time.sleep(_POLL_SECONDS)
    return seen


def _settled(found: dict[str, Any], generation: int) -> bool:
    status = found.get("status") or {}
    current = int(status.get("observedGeneration") or 0) >= generation
    return current and status.get("phase") in ("Ready", "Failed")


def _conclude(
    found: dict[str, Any] | None, timeout: float, console: Console, errors: Console
) -> None:
    if found is None:
        errors.print("The TawaService disappeared while deploying (deleted?).")
        raise typer.Exit(EXIT_INVALID)
    console.print(_summary(found, working=False))
    status = found.get("status") or {}
    if status.get("phase") == "Ready":
        return
    failing = _failing_condition(status)
    outcome = "failed" if status.get("phase") == "Failed" else f"is not Ready after {timeout:.0f}s"
    where = f" at {failing['type']}: {failing.get('message', '')}" if failing else ""
    errors.print(Text(f"The deploy {outcome}{where}", style="red"))
    raise typer.Exit(EXIT_INVALID)


def _failing_condition(status: dict[str, Any]) -> dict[str, Any] | None:
    conditions = [c for c in status.get("conditions") or [] if c.get("status") != "True"]
    steps = [c for c in conditions if c.get("type") != "Ready"]
    found: dict[str, Any] | None = (steps or conditions or [None])[0]
    return found


def _print_changes(
    found: dict[str, Any], printed: dict[str, tuple[str, str | None]], console: Console
) -> None:
    """Without a terminal: one line per condition change, for logs and CI."""
    for condition in (found.get("status") or {}).get("conditions") or []:
        key = (condition.get("status", "Unknown"), condition.get("message"))
        if printed.get(condition["type"]) != key:
            printed[condition["type"]] = key
            mark, _ = _MARKS.get(key[0], _MARKS["Unknown"])
            console.print(f"{mark} {condition['type']}: {key[1] or ''}", markup=False)


def _summary(found: dict[str, Any], *, working: bool, note: str | None = None) -> Group:
    meta, status = found.get("metadata", {}), found.get("status") or {}
    spec = found.get("spec", {})
    head = Text.assemble(
        (f"{meta.get('namespace')}/{meta.get('name')}", "bold"),
        f"  {spec.get('environment', '?')} · tier {spec.get('tier', '?')}",
        f" · phase {status.get('phase', 'Pending')}",
        f" · helm revision {status.get('helmRevision', '-')}",
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("", "Condition", "Reason", "Message"):
        table.add_column(column)
    current = int(status.get("observedGeneration") or 0)
    for condition in status.get("conditions") or []:
        state = condition.get("status", "Unknown")
        if int(condition.get("observedGeneration") or current) < current:
            state = "Unknown"  # says how the previous generation went
        mark, style = _MARKS.get(state, _MARKS["Unknown"])
        table.add_row(
            Text(mark, style=style),
            condition.get("type", ""),
            condition.get("reason") or "",
            condition.get("message") or "",
        )
    parts: list[Any] = [head, Text(f"URL: {status.get('url') or '-'}"), table]
    if working:
        words = note or status.get("message") or "Waiting for the operator…"
        parts.append(Spinner("dots", text=words))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("status")(status)
