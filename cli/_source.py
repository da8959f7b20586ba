"""The commit ``tawa deploy`` sends: ``spec.source`` from the git work tree.

The cluster builds the commit, not the files on disk, so a tree with
uncommitted changes (untracked files included: a new module the commit lacks
would be missing from the image) is refused unless the caller allows it. The
remote is the current branch's upstream, else ``origin``, else the only one;
credentials in an https remote are dropped (the cluster has its own), and a
local path is refused because the cluster cannot reach it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer

from tawa.cli import _output
from tawa.errors import TawaError
from tawa.resource import GIT_URL_PATTERN

_SHOWN_CHANGES = 5


class SourceError(TawaError):
    code = "source_refused"
    status = 400


@dataclass(frozen=True, slots=True)
class GitSource:
    git: str
    revision: str
    context_dir: str
    warnings: list[str] = field(default_factory=list)

    def spec(self) -> dict[str, str]:
        """The ``spec.source`` fields, camelCase."""
        return {"git": self.git, "revision": self.revision, "contextDir": self.context_dir}


def read_source(path: Path, *, allow_dirty: bool = False) -> GitSource:
    """The commit to build for the catalog at ``path``; :class:`SourceError` if refused."""
    folder = (path if path.is_dir() else path.parent).resolve()
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        raise SourceError(
            f"{folder} is not in a git work tree: the cluster builds a commit. Commit the "
            "service to git and push it, or deploy a prebuilt image with --image IMAGE."
        )
    revision = _git(folder, "rev-parse", "--verify", "HEAD^{commit}")
    if revision is None:
        raise SourceError("The repository has no commit yet: commit and push the service first.")
    warnings: list[str] = []

    changes = (_git(folder, "status", "--porcelain") or "").splitlines()
    if changes and not allow_dirty:
        shown = ", ".join(line.strip() for line in changes[:_SHOWN_CHANGES])
        more = f" and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
        raise SourceError(
            f"The work tree has uncommitted changes ({shown}{more}); the cluster builds the "
            "commit, not your files. Commit and push them, or pass --allow-dirty to deploy "
            f"{revision[:12]} without them."
        )
    if changes:
        warnings.append(f"Deploying commit {revision[:12]}; uncommitted changes are left out.")
    if not _git(folder, "branch", "--remotes", "--contains", revision):
        warnings.append(
            f"Commit {revision[:12]} is on no remote branch that this clone knows of; push it "
            "before the cluster clones it."
        )
    url = _clean_url(_remote_url(folder), warnings)
    context = Path(os.path.relpath(folder, Path(top).resolve())).as_posix()
    return GitSource(git=url, revision=revision, context_dir=context, warnings=warnings)


def _remote_url(folder: Path) -> str:
    remotes = (_git(folder, "remote") or "").split()
    upstream = _git(folder, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    name = upstream.split("/", 1)[0] if upstream and upstream.split("/", 1)[0] in remotes else None
    if name is None:
        name = "origin" if "origin" in remotes else (remotes[0] if len(remotes) == 1 else None)
    if name is None:
        what = "no git remote" if not remotes else f"several remotes ({', '.join(remotes)})"
        raise SourceError(
            f"The repository has {what}; set the branch's upstream (git push -u REMOTE BRANCH) "
            "so Tawa knows where the cluster clones from."
        )
    url = _git(folder, "remote", "get-url", name)
    if not url:
        raise SourceError(f"The git remote {name!r} has no URL.")
    return url


def _clean_url(url: str, warnings: list[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and "@" in parts.netloc:
        url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        warnings.append("The remote URL holds credentials; they were left out of the spec.")
    if re.match(GIT_URL_PATTERN, url) is None:
        raise SourceError(
            f"The git remote {url!r} cannot be cloned by the cluster: use an https://, "
            "ssh:// or git@host:path remote."
        )
    return url


def _git(folder: Path, *arguments: str) -> str | None:
    """``git``'s trimmed output, or ``None`` when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *arguments],
            capture_output=True, text=True, check=False, timeout=30,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def spec_or_exit(path: Path, *, allow_dirty: bool) -> dict[str, str]:
    """``spec.source`` for ``tawa deploy``; prints why and exits when refused."""
    errors = _output.stderr()
    try:
        found = read_source(path, allow_dirty=allow_dirty)
    except SourceError as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(_output.EXIT_INVALID) from None
    for warning in found.warnings:
        errors.print(f"Warning: {warning}", markup=False)
    return found.spec()
