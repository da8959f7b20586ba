"""``tawa dev up | status | down``: real processes, stopped exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def tawa(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAWA_")}
    env["PATH"] = f"{ROOT / '.tools' / 'bin'}:{env.get('PATH', '')}"
    env["COLUMNS"] = "200"  # rich wraps at 80 columns without a terminal
    result = subprocess.run(
        [sys.executable, "-m", "tawa.cli", *args], env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_starts_every_component_and_down_stops_exactly_those(tmp_path: Path) -> None:
    folder = str(tmp_path / "dev")
    up = tawa("dev", "up", "--dir", folder)
    assert "in-memory MongoDB-compatible store" in up.stdout
    try:
        report = json.loads(tawa("dev", "status", "--dir", folder, "-o", "json").stdout)
        assert set(report) == {
            "redis", "kubernetes", "wallet", "identity", "registry", "gateway", "operator"
        }  # fmt: skip
        assert all(row["healthy"] for row in report.values()), report
        assert tawa("dev", "up", "--dir", folder, check=False).returncode == 1
        exports = tawa("dev", "env", "--dir", folder).stdout
        assert "export KUBECONFIG=" in exports
        assert "export TAWA_GATEWAY_URL=" in exports
    finally:
        down = tawa("dev", "down", "--dir", folder)
    assert "Stopped:" in down.stdout
    assert not any(alive(int(row["pid"])) for row in report.values())
    assert "Nothing was running" in tawa("dev", "down", "--dir", folder).stdout
    stopped = tawa("dev", "status", "--dir", folder, check=False)
    assert "not running" in stopped.stdout
    assert stopped.returncode == 1
