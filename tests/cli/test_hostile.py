"""Hostile arguments and files: a plain sentence and an exit status, never a
traceback, and nothing sent anywhere when the input is already wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tawa.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello-fastapi"
runner = CliRunner()
NOWHERE = {"TAWA_WALLET_URL": "http://127.0.0.1:1", "KUBECONFIG": "/nonexistent"}


@pytest.mark.parametrize("verb", [["wallet"], ["wallet", "buy", "5"], ["gas"]])
@pytest.mark.parametrize("org", ["../x", "ÄÖ", "a;b", "x" * 64])
def test_an_org_that_is_no_slug_is_a_usage_error(verb: list[str], org: str) -> None:
    result = runner.invoke(app, [*verb, "--org", org], env=NOWHERE)

    assert result.exit_code == 2, result.output
    assert f"--org {org!r} is not an org slug" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("verb", ["render", "deploy"])
def test_a_bad_image_is_refused_before_the_cluster(verb: str) -> None:
    result = runner.invoke(app, [verb, str(EXAMPLE), "--image", "bad image;rm"], env=NOWHERE)

    assert result.exit_code == 1, result.output
    assert "--image must be an image reference" in result.output
    assert "'bad image;rm'" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe binary",
        "name: caf\xe9\n".encode("latin-1"),
        b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        b"a: &a [x,x,x,x,x,x,x,x,x]\n"
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
            for i in range(9)
        ),
    ],
    ids=["empty", "binary", "latin-1", "deep", "billion-laughs"],
)
@pytest.mark.parametrize("verb", ["preflight", "render", "build"])
def test_unreadable_catalogs_are_refused_plainly(tmp_path, content: bytes, verb: str) -> None:
    (tmp_path / "catalog-info.yaml").write_bytes(content)
    args = [verb, str(tmp_path)] + (["--print-dockerfile"] if verb == "build" else [])

    result = runner.invoke(app, args, env=NOWHERE)

    assert result.exit_code == 1, result.output
    assert "catalog-info.yaml:" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("verb", ["preflight", "render"])
def test_an_endless_or_huge_file_is_refused_without_reading_it_all(tmp_path, verb: str) -> None:
    # /dev/zero was read until memory ran out (MemoryError traceback).
    huge = tmp_path / "catalog-info.yaml"
    huge.write_bytes(b"# " + b"x" * (4 * 2**20) + b"\n")

    for path in ("/dev/zero", str(huge)):
        result = runner.invoke(app, [verb, path], env=NOWHERE)

        assert result.exit_code == 1, result.output
        assert "too large for a catalog" in result.output
