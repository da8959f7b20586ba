"""Stand-ins for deployed services' pods, on machines where no pod runs.

The local Kubernetes API schedules nothing, so whatever must answer for a
deployed service (health checks, smoke tests, calls through the gateway) is
a process on a loopback port: the service's own app when its folder holds an
``app.py`` (``uvicorn app:app``), else the generic ``_standin.py``, which
answers every GET with 200. :func:`upstream_map` is what the dev stack's
``TAWA_UPSTREAM_MAP`` needs: each service's cluster address → its stand-in.

Used by ``tawa dev demo`` and the end-to-end suite; what a stand-in plays is
the caller's business.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tawa.cli._devstack import free_port
from tawa.resource import cluster_url_for

GENERIC = Path(__file__).with_name("_standin.py")


class StandInError(Exception):
    """A stand-in did not answer in time."""


@dataclass
class StandIn:
    name: str
    port: int
    """The service's port in the cluster."""
    environment: str = "sandbox"
    app_dir: Path | None = None
    """A folder with ``app.py``: the service's own app plays the pod."""
    local_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def cluster_address(self) -> str:
        return cluster_url_for(self.name, self.environment, port=self.port).split("://", 1)[1]

    @property
    def local_address(self) -> str:
        return f"127.0.0.1:{self.local_port}"

    @property
    def kind(self) -> str:
        return "its own app (uvicorn app:app)" if self.app_dir else "a generic stand-in"

    def command(self) -> list[str]:
        if self.app_dir is None:
            return [sys.executable, str(GENERIC), str(self.local_port), self.name]
        return [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(self.app_dir),
                "--host", "127.0.0.1", "--port", str(self.local_port)]  # fmt: skip

    def start(self, *, logs: Path) -> None:
        """Start the process (its output goes to ``logs/standin-{name}.log``)."""
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"standin-{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.app_dir
            )

    def answers(self) -> bool:
        try:
            return httpx.get(f"http://{self.local_address}/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False


def with_app(name: str, port: int, folder: Path, *, environment: str = "sandbox") -> StandIn:
    """The stand-in of a catalog in ``folder``: its own app if the folder has one."""
    app_dir = folder if (folder / "app.py").exists() else None
    return StandIn(name, port, environment=environment, app_dir=app_dir)


def upstream_map(stand_ins: Iterable[StandIn]) -> dict[str, str]:
    return {s.cluster_address: s.local_address for s in stand_ins}


def wait_answering(stand_ins: Iterable[StandIn], *, timeout: float) -> None:
    waiting = [s for s in stand_ins if s.process is not None]
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting = [s for s in waiting if not s.answers()]
        if waiting:
            time.sleep(0.2)
    if waiting:
        names = ", ".join(s.name for s in waiting)
        raise StandInError(f"the stand-ins of {names} did not answer within {timeout:.0f}s")


def stop(stand_ins: Iterable[StandIn], *, timeout: float = 10.0) -> None:
    """Terminate every started stand-in, then wait for each (killing the stubborn)."""
    started = [s for s in stand_ins if s.process is not None]
    for stand_in in started:
        assert stand_in.process is not None
        stand_in.process.terminate()
    for stand_in in started:
        assert stand_in.process is not None
        try:
            stand_in.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stand_in.process.kill()
            stand_in.process.wait()
        stand_in.process = None
