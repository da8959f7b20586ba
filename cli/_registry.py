"""What the registry verbs (config, domain, scopes) share.

The registry's address and the internal key come from ``TAWA_REGISTRY_URL``
and ``TAWA_INTERNAL_KEY``; the service is the Component of the
``catalog-info.yaml`` in the current folder unless ``--service`` names it.
Registry failures end the command with exit status 1 and the registry's
sentence; a missing catalog or bad argument with 2.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from tawa.catalog import CatalogError, read_catalog
from tawa.cli import _output
from tawa.cli._output import EXIT_INVALID, EXIT_USAGE
from tawa.clients.registry import RegistryClient, RegistryRejected, RegistryUnavailable
from tawa.resource import NAME_PATTERN, Environment
from tawa.settings import CommonSettings

T = TypeVar("T")

EnvOption = Annotated[
    Environment, typer.Option("--env", "-e", help="Environment: sandbox, uat or prod.")
]
ServiceOption = Annotated[
    str | None,
    typer.Option("--service", "-s", help="Service name; default the catalog-info.yaml here."),
]


def service_name(given: str | None) -> str:
    """``given``, or the name of the one Component in ./catalog-info.yaml."""
    if given:
        if not re.fullmatch(NAME_PATTERN, given):
            fail(f"--service {given!r} is not a service name (a DNS label).", EXIT_USAGE)
        return given
    try:
        return read_catalog(Path.cwd()).component().name
    except CatalogError as exc:
        first = exc.problems[0].message if exc.problems else "no usable catalog"
        fail(f"Cannot tell which service this is ({first}); pass --service NAME.", EXIT_USAGE)


def fail(message: str, status: int = EXIT_INVALID) -> NoReturn:
    _output.stderr().print(message, markup=False)
    raise typer.Exit(status)


def call(action: Callable[[RegistryClient], Awaitable[T]]) -> T:
    """Run ``action`` with a registry client; registry errors end the command."""
    settings = CommonSettings()

    async def _run() -> T:
        key = settings.internal_key.get_secret_value()
        async with RegistryClient(settings.registry_url, internal_key=key) as client:
            return await action(client)

    try:
        return asyncio.run(_run())
    except RegistryUnavailable as exc:
        fail(f"{exc.message}. Is TAWA_REGISTRY_URL right?")
    except RegistryRejected as exc:
        fail(_output.refusal("registry", exc.message, exc.details))
