"""Start ``python -m tawa.localkube`` as a subprocess for a test session.

Usage::

    with local_kube() as kube:
        subprocess.run(["kubectl", "get", "ns"], env=kube.env, check=True)

``kube.env`` is a copy of ``os.environ`` with ``KUBECONFIG`` pointing at the
server, kubectl's discovery cache and Helm's cache/config/data folders in the
server's temp folder (so that Helm runs offline and nothing stale is reused).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class LocalKube:
    url: str
    kubeconfig: Path
    workdir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        _terminate(self.process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _read_header(process: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    """The first two stdout lines: ``kubeconfig: PATH`` and ``server: URL``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    header: dict[str, str] = {}
    while len(header) < 2:
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the local Kubernetes API did not start; see its stderr")
        line = process.stdout.readline().decode().strip()
        if ": " in line:
            key, value = line.split(": ", 1)
            header[key] = value
    return header


def _wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the local Kubernetes API at {url} is not ready after {timeout}s")


@contextmanager
def local_kube(*, state_dir: Path | None = None, timeout: float = 20.0) -> Iterator[LocalKube]:
    """Run the server until the block ends. With ``state_dir``, its objects are
    kept there across runs (and the folder is left in place)."""
    workdir = state_dir or Path(tempfile.mkdtemp(prefix="tawa-localkube-"))
    log = (workdir / "localkube.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.localkube", "--port", "0", "--state-dir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        header = _read_header(process, timeout)
        url = header["server"]
        _wait_ready(url, timeout)
        # kubectl caches discovery per host:port; ports get reused across runs.
        env = dict(os.environ, KUBECONFIG=header["kubeconfig"], KUBECACHEDIR=str(workdir / "cache"))
        for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[name] = str(workdir / name.lower())
        kube = LocalKube(url, Path(header["kubeconfig"]), workdir, process, env)
        yield kube
    finally:
        _terminate(process)
        if process.stdout is not None:
            process.stdout.close()
        log.close()
        if state_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
