"""The ``tawa`` command.

Each module of this package that defines ``register(app)`` adds its commands,
so a new verb is a new module and this file never changes.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import tawa.cli as _package

app = typer.Typer(
    name="tawa",
    help="Deploy services described by catalog-info.yaml onto Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module in sorted(pkgutil.iter_modules(_package.__path__), key=lambda m: m.name):
        if module.name in {"main", "__main__"} or module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{_package.__name__}.{module.name}")
        register = getattr(loaded, "register", None)
        if callable(register):
            register(app)


_register_commands()

if __name__ == "__main__":
    app()
