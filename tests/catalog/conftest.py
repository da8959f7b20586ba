"""Fixtures for the catalog suite: the shared corpus and the examples."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "catalog-info"
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"


def corpus_files() -> list[Path]:
    """Every catalog of the shared corpus; CI keeps a copy of shared/ beside the clone."""
    files = sorted(p for p in CORPUS.glob("*.y*ml"))
    if not files:
        pytest.fail(f"the catalog corpus is missing: expected files in {CORPUS}")
    return files


def example_catalogs() -> list[Path]:
    return sorted(EXAMPLES.glob("*/catalog-info.yaml"))


@pytest.fixture
def write_catalog(tmp_path: Path):
    """Write a catalog file and return its path."""

    def write(text: str, name: str = "catalog-info.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
