"""``tawa dev``: run the whole platform on this machine, each part a real process."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tawa.cli._devstack import Component, DevStack, DevStackError, StackState

console = Console()
dev_app = typer.Typer(
    help="Run the whole platform locally (embedded default).", no_args_is_help=True
)

FolderOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="TAWA_DEV_DIR",
        help="State folder of the local platform (logs, kubeconfig, pids).",
    ),
]
DEFAULT_DIR = Path(".tawa-dev")


def register(app: typer.Typer) -> None:
    app.add_typer(dev_app, name="dev")


def _parse_map(entries: list[str]) -> dict[str, str]:
    mapping = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or ":" not in source or ":" not in target:
            raise typer.BadParameter(
                f"--map {entry!r} must read HOST:PORT=HOST:PORT, "
                "e.g. my-svc.my-svc-sandbox.svc.cluster.local:8000=127.0.0.1:9000"
            )
        mapping[source] = target
    return mapping


def _announce(component: Component) -> None:
    console.print(f"  [green]✓[/] {component.name:<11} {component.url}")


@dev_app.command("up")
def up(
    folder: FolderOption = DEFAULT_DIR,
    mongodb_uri: Annotated[
        str | None,
        typer.Option(envvar="TAWA_MONGODB_URI", help="A real MongoDB for the services' state."),
    ] = None,
    upstream: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Map a cluster address to a local one for the gateway and health checks "
            "(HOST:PORT=HOST:PORT; repeatable).",
        ),
    ] = None,
) -> None:
    """Start Redis, the local Kubernetes API, the four services and the operator."""
    stack = DevStack(folder, mongodb_uri=mongodb_uri)
    console.print(f"Starting the Tawa platform from {stack.folder}")
    if not mongodb_uri:
        console.print(
            "  [yellow]![/] no TAWA_MONGODB_URI given: services keep their state in an "
            "in-memory MongoDB-compatible store (lost on `tawa dev down`)"
        )
    try:
        state = stack.up(upstream_map=_parse_map(upstream or []), on_started=_announce)
    except DevStackError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    console.print(f"Ready. Logs in {stack.logs}. Point your shell at it with:")
    console.print(f'  eval "$(tawa dev env --dir {shlex.quote(str(folder))})"')
    console.print(f"  kubeconfig: {state.kubeconfig}")


@dev_app.command("down")
def down(folder: FolderOption = DEFAULT_DIR) -> None:
    """Stop exactly what `tawa dev up` started."""
    stopped = DevStack(folder).down()
    if not stopped:
        console.print("Nothing was running.")
        return
    console.print("Stopped: " + ", ".join(stopped))


@dev_app.command("status")
def status(
    folder: FolderOption = DEFAULT_DIR,
    output: Annotated[str, typer.Option("-o", "--output", help="table or json")] = "table",
) -> None:
    """Health and URL of each component."""
    report = DevStack(folder).status()
    if output == "json":
        typer.echo(json.dumps(report, indent=2))
    elif output == "table":
        if not report:
            console.print("The local platform is not running (`tawa dev up` starts it).")
        table = Table("component", "health", "url", "pid")
        for name, row in report.items():
            health = "[green]healthy[/]" if row["healthy"] else "[red]down[/]"
            table.add_row(name, health, str(row["url"]), str(row["pid"]))
        console.print(table)
    else:
        raise typer.BadParameter(f"--output must be table or json, not {output!r}")
    # For scripts: 0 only when the platform runs and every component is healthy.
    if not report or not all(row["healthy"] for row in report.values()):
        raise typer.Exit(1)


@dev_app.command("env")
def env(folder: FolderOption = DEFAULT_DIR) -> None:
    """Print `export` lines that point the CLI at the running local platform."""
    state = StackState.load(folder.resolve())
    if state is None:
        console.print("[red]error:[/] the local platform is not running; run `tawa dev up`")
        raise typer.Exit(1)
    for key, value in state.env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@dev_app.command("cluster")
def cluster(
    port: Annotated[int, typer.Option(help="Port of the API (0 picks a free one).")] = 0,
    kubeconfig: Annotated[Path, typer.Option(help="Where to write the kubeconfig.")] = Path(
        ".tawa-dev/kubeconfig"
    ),
) -> None:
    """Run only the local Kubernetes API, in the foreground."""
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "tawa.localkube", "--port", str(port)]
    command += ["--kubeconfig", str(kubeconfig)]
    raise typer.Exit(subprocess.call(command, env=dict(os.environ)))


@dev_app.command("demo")
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="State folder for the demo.")] = Path(
        ".tawa-dev/demo"
    ),
    keep: Annotated[bool, typer.Option(help="Leave the platform running at the end.")] = False,
) -> None:
    """The main job: platform up, deploy the examples, call one through the gateway."""
    from tawa.cli._demo import run_demo

    raise typer.Exit(run_demo(folder, keep=keep, console=console))
