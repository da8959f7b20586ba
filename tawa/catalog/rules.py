"""What the catalog format knows: annotations, framework defaults, versions.

Framework defaults follow reference 2.4; ``fastapi``, ``flask`` and ``django``
are ours (port 8000, health ``/health``). Catalog versions follow reference 2.6.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tawa.resource import Framework

ANNOTATION_PREFIX = "insureco.io/"


@dataclass(frozen=True, slots=True)
class FrameworkDefaults:
    port: int
    health_path: str | None
    build_command: str | None
    """``None``: nothing to build."""
    start_command: str
    """Run by ``/bin/sh``, so ``$PORT`` (set by the platform) expands."""
    output_dir: str = "."
    """What the build produces and the runtime image keeps."""


_NODE = "node dist/index.js"
FRAMEWORK_DEFAULTS: dict[Framework, FrameworkDefaults] = {
    Framework.NEXTJS: FrameworkDefaults(3000, "/api/health", "npm run build", "npm start", ".next"),
    Framework.EXPRESS: FrameworkDefaults(3000, "/health", "npm run build", _NODE, "dist"),
    Framework.HONO: FrameworkDefaults(3000, "/health", "npm run build", _NODE, "dist"),
    Framework.FASTIFY: FrameworkDefaults(3000, "/health", "npm run build", _NODE, "dist"),
    Framework.STATIC: FrameworkDefaults(80, "/health", None, "nginx"),
    Framework.WORKER: FrameworkDefaults(3000, None, "npm run build", "node dist/worker.js", "dist"),
    Framework.FASTAPI: FrameworkDefaults(
        8000, "/health", None, "uvicorn app:app --host 0.0.0.0 --port $PORT"
    ),
    Framework.FLASK: FrameworkDefaults(
        8000, "/health", None, "gunicorn --bind 0.0.0.0:$PORT app:app"
    ),
    Framework.DJANGO: FrameworkDefaults(
        8000, "/health", None, "gunicorn --bind 0.0.0.0:$PORT wsgi:application"
    ),
}

ASSUMED_FRAMEWORK = Framework.EXPRESS
"""Stands in when a catalog has no framework annotation (see :mod:`tawa.catalog`)."""

# Annotation (without prefix) → the spec field it fills, or None when it fills
# a field of ``spec.build`` (see BUILD_ANNOTATIONS).
ANNOTATIONS: dict[str, str | None] = {
    "framework": "framework",
    "catalog-version": "catalogVersion",
    "pod-tier": "tier",
    "port": "port",
    "health-endpoint": "healthPath",
    "node-version": None,
    "build-command": None,
    "start-command": None,
    "output-dir": None,
}
BUILD_ANNOTATIONS: dict[str, str] = {
    "node-version": "nodeVersion",
    "build-command": "buildCommand",
    "start-command": "startCommand",
    "output-dir": "outputDir",
}
"""Annotation (without prefix) → its field of ``spec.build``, read by the image build."""

# Catalog versions (reference 2.6) and what each one turns on.
V0_2 = (0, 2, 0)
V0_4 = (0, 4, 0)
V0_5 = (0, 5, 0)
OLDEST_VERSION = (0, 1, 0)
LATEST_VERSION = V0_5
VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")

BACKSTAGE_TOP = ("apiVersion", "kind", "metadata", "spec", "relations", "status")
BACKSTAGE_METADATA = (
    "name",
    "namespace",
    "title",
    "description",
    "labels",
    "annotations",
    "tags",
    "links",
    "uid",
    "etag",
)
BACKSTAGE_SPEC = (
    "type",
    "lifecycle",
    "owner",
    "system",
    "subcomponentOf",
    "providesApis",
    "consumesApis",
    "dependsOn",
    "dependencyOf",
)
TAWA_SPEC = (
    "routes",
    "databases",
    "internalDependencies",
    "dependencies",
    "scopes",
    "auth",
    "tests",
    "config",
    "replicas",
    "deletionPolicy",
    "rollback",
)
UNSUPPORTED_SPEC = ("sharedWith", "consumesDatabase")
"""Catalog 0.5.0 shared-database keys whose shape is not published (reference 9.3)."""


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = VERSION_RE.match(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name ``word`` was most likely meant to be, if any is close."""
    candidates = {k.lower(): k for k in known}
    match = difflib.get_close_matches(word.lower(), list(candidates), n=1, cutoff=0.6)
    return candidates[match[0]] if match else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    guess = closest(word, known)
    return f"; did you mean {guess!r}?" if guess else ""
