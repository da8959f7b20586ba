"""A small async wrapper around the real ``helm`` binary.

Only the commands the release step needs: status, upgrade-or-install,
history, rollback, uninstall. Values go through a private file (never the
command line, which other users can read in ``ps``). Every failure is wrapped
once as :class:`HelmError` carrying the tail of helm's stderr, redacted.

Installs do not use ``--wait`` or ``--atomic``: whether pods come up is the
health step's business (and on an API server without kubelet they never
would), so a release is "deployed" as soon as its objects are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tawa.errors import TawaError
from tawa.logs import redact

_STDERR_TAIL = 600
_PR_SET_PDEATHSIG = 1


class HelmError(TawaError):
    code = "helm_failed"
    status = 502


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    namespace: str
    revision: int
    status: str
    """Helm's word: ``deployed``, ``failed``, ``pending-install``, ``pending-upgrade``, ..."""
    values: dict[str, Any] = field(default_factory=dict)
    """The user-supplied values of this revision (``helm get values``)."""

    @property
    def is_pending(self) -> bool:
        return self.status.startswith("pending-")


def _die_with_parent() -> None:
    # A helm left running after the operator was killed would race the next
    # operator over the same release; let the kernel stop it with us.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Helm:
    def __init__(
        self,
        binary: str,
        *,
        home: Path,
        kubeconfig: str | None = None,
        timeout: float = 300.0,
        concurrency: int = 8,
        install_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.home = home
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.install_args = install_args
        self._slots = asyncio.Semaphore(concurrency)
        self.commands_run = 0
        for sub in ("cache", "config", "data", "tmp"):
            (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    async def status(self, name: str, namespace: str) -> Release | None:
        """The release's latest revision, or ``None`` when there is no release."""
        try:
            raw = await self._run("status", name, "--namespace", namespace, "--output", "json")
        except HelmError as exc:
            if _is_not_found(exc):
                return None
            raise
        return _release(raw, name=name, namespace=namespace)

    async def upgrade(
        self, name: str, namespace: str, *, chart: Path, values: dict[str, Any]
    ) -> Release:
        """Install the release, or upgrade it to ``values``; returns the new revision."""
        with self._values_file(values) as path:
            raw = await self._run(
                "upgrade", name, str(chart), "--install", "--namespace", namespace,
                "--values", str(path), "--history-max", "10", "--output", "json",
                *self.install_args,
            )  # fmt: skip
        return _release(raw, name=name, namespace=namespace)

    async def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        raw = await self._run("history", name, "--namespace", namespace, "--output", "json")
        entries: list[dict[str, Any]] = json.loads(raw)
        return entries

    async def rollback(self, name: str, namespace: str, *, revision: int = 0) -> None:
        """Roll back to ``revision`` (0: the previous one)."""
        await self._run("rollback", name, str(revision), "--namespace", namespace)

    async def uninstall(self, name: str, namespace: str) -> bool:
        """Remove the release; ``False`` when there was none."""
        try:
            await self._run("uninstall", name, "--namespace", namespace)
        except HelmError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    @contextlib.contextmanager
    def _values_file(self, values: dict[str, Any]) -> Any:
        fd, name = tempfile.mkstemp(prefix="values-", suffix=".json", dir=self.home / "tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(values, handle)
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
        env.update(
            HELM_CACHE_HOME=str(self.home / "cache"),
            HELM_CONFIG_HOME=str(self.home / "config"),
            HELM_DATA_HOME=str(self.home / "data"),
        )
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
        return env

    async def _run(self, *args: str) -> str:
        command = " ".join(args[:2])
        async with self._slots:
            self.commands_run += 1
            process = await asyncio.create_subprocess_exec(
                self.binary, *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=self._env(), preexec_fn=_die_with_parent,
            )  # fmt: skip
            try:
                out, err = await asyncio.wait_for(process.communicate(), self.timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise HelmError(f"helm {command} took longer than {self.timeout:.0f}s") from None
        if process.returncode != 0:
            tail = redact(err.decode(errors="replace").strip()[-_STDERR_TAIL:])
            raise HelmError(
                f"helm {command} failed (exit {process.returncode}): {tail}",
                details={"exit": process.returncode},
            )
        return out.decode()


def _release(raw: str, *, name: str, namespace: str) -> Release:
    """A release from helm's JSON (``status`` and ``upgrade`` print the same shape)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise HelmError(f"helm printed no JSON for release {namespace}/{name}") from None
    return Release(
        name=name,
        namespace=namespace,
        revision=int(doc.get("version", 0)),
        status=str(doc.get("info", {}).get("status", "unknown")),
        values=doc.get("config") or {},
    )


def _is_not_found(error: HelmError) -> bool:
    return "not found" in error.message
