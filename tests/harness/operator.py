"""Run the real operator (``python -m tawa.operator``) as a subprocess.

Usage::

    with operator_process(kube.env, workdir=tmp_path) as operator:
        ...                      # apply TawaServices, watch them converge
        operator.kill()          # SIGKILL, as a crashed pod would die
        operator.start()         # a fresh process against the same cluster

The companion services' URLs point at a closed port unless the caller sets
them, so a test never reaches a developer's running platform by accident.
Steps that need a service the test does not run are left out with
``TAWA_DISABLED_STEPS``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELM = os.environ.get("TAWA_HELM") or str(ROOT / ".tools" / "bin" / "helm")
_CLOSED = "http://127.0.0.1:9"
_STARTED = "Initial authentication has finished"


@dataclass
class OperatorProcess:
    env: dict[str, str]
    log_path: Path
    namespaces: tuple[str, ...] = ()
    """Watch only these (the whole cluster when empty): other suites' leftovers
    on a shared local API stay out of the way."""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        self.starts += 1
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tawa.operator",
                    "--standalone",
                    *(f"--namespace={namespace}" for namespace in self.namespaces),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        while _STARTED not in self.log_path.read_text(errors="replace")[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()  # never leave a half-started operator behind
                raise RuntimeError(f"the operator did not start; see {self.log_path}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, like an OOM-killed pod."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def operator_env(kube_env: dict[str, str], workdir: Path, **settings: str) -> dict[str, str]:
    env = dict(kube_env)
    env.update(
        TAWA_HELM=HELM,
        TAWA_HELM_HOME=str(workdir / "helm"),
        TAWA_LOG_JSON="false",
        TAWA_REGISTRY_URL=_CLOSED,
        TAWA_WALLET_URL=_CLOSED,
        TAWA_IDENTITY_URL=_CLOSED,
        TAWA_GATEWAY_URL=_CLOSED,
        TAWA_RETRY_DELAY="2",
    )
    env.update(settings)
    return env


@contextmanager
def operator_process(
    kube_env: dict[str, str],
    *,
    workdir: Path,
    namespaces: tuple[str, ...] = (),
    **settings: str,
) -> Iterator[OperatorProcess]:
    """The operator running against ``kube_env``'s kubeconfig; ``settings`` are TAWA_* vars."""
    workdir.mkdir(parents=True, exist_ok=True)
    operator = OperatorProcess(
        env=operator_env(kube_env, workdir, **settings),
        log_path=workdir / "operator.log",
        namespaces=namespaces,
    )
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()
