"""How long preflight takes on the corpus's 1,000-component file (target: under 1 s).

Prints the median of several runs for our preflight (the parser alone, and the
whole ``tawa preflight`` command with its report), next to plain YAML loaders
reading the same file, and the ratios between them.

    .venv/bin/python bench/preflight.py [PATH] [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from typer.testing import CliRunner

from tawa.catalog import read_catalog
from tawa.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared/corpus/catalog-info/28-very-large-1000-generated-components.yaml"
TARGET_SECONDS = 1.0


def timed(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    text = args.path.read_text(encoding="utf-8")
    runner = CliRunner()

    def cli() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            result = runner.invoke(app, ["preflight", str(args.path)])
        assert result.exit_code == 0, result.output

    def process() -> None:
        command = [sys.executable, "-m", "tawa.cli.main", "preflight", str(args.path)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def startup() -> None:
        subprocess.run([sys.executable, "-c", "import tawa.cli.main"], check=True)

    figures = {
        "tawa preflight, new process (with start)": timed(process, args.runs),
        "  of which: start-up, importing the CLI": timed(startup, args.runs),
        "tawa preflight (command, with report)": timed(cli, args.runs),
        "tawa.catalog.read_catalog (parser)": timed(lambda: read_catalog(args.path), args.runs),
        "yaml.safe_load_all (pure Python)": timed(
            lambda: list(yaml.safe_load_all(text)), args.runs
        ),
        "yaml.load_all, CSafeLoader (libyaml)": timed(
            lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)), args.runs
        ),
        "ruamel.yaml round-trip load_all": timed(
            lambda: list(YAML(typ="rt").load_all(text)), max(1, args.runs // 2)
        ),
    }
    components = len(read_catalog(args.path).components)
    baseline = figures["yaml.safe_load_all (pure Python)"]
    print(f"{args.path.name}: {len(text):,} characters, {components} Components")
    print(f"{'':40} {'median s':>9} {'vs safe_load_all':>17}")
    for label, seconds in figures.items():
        print(f"{label:40} {seconds:9.3f} {seconds / baseline:16.2f}x")
    verdict = (
        "meets" if figures["tawa preflight (command, with report)"] < TARGET_SECONDS else "MISSES"
    )
    print(f"preflight {verdict} the {TARGET_SECONDS:.0f} s target")


if __name__ == "__main__":
    main()
