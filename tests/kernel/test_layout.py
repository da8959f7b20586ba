"""The distribution's layout stays what pyproject.toml declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = CONFIG["tool"]["setuptools"]["package-dir"]


def _packages_on_disk() -> set[str]:
    found = set()
    for name, folder in PACKAGE_DIR.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]) if relative.parts else name)
    return {p for p in found if not any(part.startswith(".") for part in p.split("."))}


def test_every_package_folder_is_declared() -> None:
    declared = set(CONFIG["tool"]["setuptools"]["packages"])
    assert _packages_on_disk() <= declared


def test_every_kernel_module_is_under_the_kernel_contract() -> None:
    contract = next(
        c for c in CONFIG["tool"]["importlinter"]["contracts"] if c["type"] == "forbidden"
    )
    kernel = {
        f"tawa.{p.stem}"
        for p in (ROOT / "tawa").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert kernel <= set(contract["source_modules"])
