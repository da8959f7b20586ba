"""Start, wait for and stop one companion service as a real process.

The per-service harnesses (wallet, identity, registry) choose the settings;
this module owns the process: ``python -m tawa.<component>`` on a loopback
port, a readiness poll that fails fast when the process exits, and a stop that
escalates from SIGTERM to SIGKILL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import httpx


def start_service(
    component: str,
    port: int,
    env: dict[str, str],
    *,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    stderr: IO[Any] | int | None = None,
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        f"tawa.{component}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    what: str,
    path: str = "/healthz",
    timeout: float = 20.0,
    logs: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``url + path`` until it answers 200; raise with the logs if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}:\n{logs()[-2000:]}")
        try:
            if httpx.get(url + path, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer on {url} within {timeout}s")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
