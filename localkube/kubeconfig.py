"""The kubeconfig that points clients (kubectl, helm, kopf, the ``kubernetes``
package) at a running local API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

NAME = "tawa-localkube"
# The local API does not check credentials; clients still want a user entry.
TOKEN = "localkube"  # noqa: S105


def render(url: str, *, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": {"server": url}}],
        "users": [{"name": NAME, "user": {"token": TOKEN}}],
        "contexts": [
            {"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": namespace}}
        ],
        "current-context": NAME,
        "preferences": {},
    }


def write(path: Path, url: str) -> Path:
    """Write atomically with owner-only permissions (kubectl warns otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(yaml.safe_dump(render(url), sort_keys=False))
    os.chmod(partial, 0o600)
    partial.replace(path)
    return path
