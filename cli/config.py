"""``tawa config``: runtime config values of a service, kept in the registry.

``set`` and ``unset`` change what the next deploy gives the pods; ``pull``
writes the values into ``.env.local`` for local runs, replacing the lines of
the keys it writes and keeping every other line. Values may be secrets: only
``get``, ``list --show`` and ``pull`` print or write them.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from tawa.cli._output import EXIT_USAGE, stdout
from tawa.cli._registry import EnvOption, ServiceOption, call, fail, service_name
from tawa.resource import Environment

config_app = typer.Typer(help="Runtime config values (KEY=VALUE) of the service.")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _pairs(assignments: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not _KEY.match(key):
            fail(
                f"{item.split('=')[0]!r}: write KEY=VALUE with KEY like DATABASE_NAME.", EXIT_USAGE
            )
        values[key] = value
    return values


@config_app.command("set")
def set_values(
    assignments: Annotated[list[str], typer.Argument(help="One or more KEY=VALUE.")],
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
) -> None:
    """Set config values; they reach the pods on the next deploy."""
    name, values = service_name(service), _pairs(assignments)
    call(lambda registry: registry.set_config(env.value, name, values))
    keys = ", ".join(sorted(values))
    typer.echo(f"Set {keys} for {name} in {env.value}; redeploy to apply.")


@config_app.command("get")
def get_value(
    key: str, env: EnvOption = Environment.SANDBOX, service: ServiceOption = None
) -> None:
    """Print one value."""
    name = service_name(service)
    values = call(lambda registry: registry.get_config(env.value, name))
    if key not in values:
        fail(f"{key} is not set for {name} in {env.value}.")
    typer.echo(values[key])


@config_app.command("list")
def list_values(
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
    show: Annotated[bool, typer.Option("--show", help="Print the values too.")] = False,
) -> None:
    """List the keys (values hidden unless --show)."""
    name = service_name(service)
    values = call(lambda registry: registry.get_config(env.value, name))
    if not values:
        typer.echo(f"No config values for {name} in {env.value}.")
    for key, value in values.items():
        typer.echo(f"{key}={value if show else '********'}")


@config_app.command("unset")
def unset_value(
    key: str, env: EnvOption = Environment.SANDBOX, service: ServiceOption = None
) -> None:
    """Remove one value."""
    if not _KEY.match(key):
        fail(f"{key!r} is not a config key: use letters, digits and '_'.", EXIT_USAGE)
    name = service_name(service)
    if not call(lambda registry: registry.unset_config(env.value, name, key)):
        fail(f"{key} is not set for {name} in {env.value}.")
    typer.echo(f"Unset {key} for {name} in {env.value}; redeploy to apply.")


@config_app.command("pull")
def pull(
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
    file: Annotated[Path, typer.Option("--file", "-f", help="File to write.")] = Path(".env.local"),
) -> None:
    """Write the values into .env.local, keeping the file's other lines."""
    name = service_name(service)
    values = call(lambda registry: registry.get_config(env.value, name))
    write_env_file(file, values)
    stdout().print(f"Wrote {len(values)} value(s) of {name} ({env.value}) to {file}.", markup=False)


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Replace the lines of ``values``' keys in ``path``, append the new ones, keep the rest.

    Written to a private (0600) temporary file beside ``path`` and renamed over
    it, so a reader never sees half a file.
    """
    lines = path.read_text().splitlines() if path.exists() else []
    pending = dict(values)
    out: list[str] = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) in values:
            key = match.group(1)
            if key in pending:
                out.append(f"{key}={quote(pending.pop(key))}")
            continue  # a second line for the same key would shadow the first
        out.append(line)
    out.extend(f"{key}={quote(value)}" for key, value in pending.items())
    fd, temporary = tempfile.mkstemp(prefix=".env.", dir=path.parent.resolve())
    with os.fdopen(fd, "w") as stream:
        stream.write("\n".join(out) + "\n")
    os.replace(temporary, path)


def quote(value: str) -> str:
    """A dotenv value: bare when safe, else double-quoted with escapes."""
    if _BARE.match(value):
        return value
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")  # a bare CR ends the line for most readers
        .replace("$", "\\$")
    )
    return f'"{escaped}"'


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
