"""The Kubernetes objects of one image build: names, the Job, the ConfigMap.

Pure functions, so the manifests can be read and tested without a cluster.
One Job per service and commit: its name is derived from both, so a commit
that was built (or failed) is never built again by a later reconcile.

The Job clones the commit in an init container (``alpine/git``), puts the
generated Dockerfile and ``.dockerignore`` beside the sources when the
repository has no Dockerfile, then builds and pushes with BuildKit in rootless
mode (``buildctl-daemonless.sh``). BuildKit rather than Kaniko: it runs as an
unprivileged user (UID 1000, with seccomp and AppArmor unconfined so it can
create user namespaces), it is the Dockerfile implementation ``docker build``
itself uses (same syntax, same ``.dockerignore`` rules), and it is actively
maintained, while Kaniko needs root in its container and its upstream
repository was archived in 2025.

Credentials are mounted from Secrets, never put in the manifest: the
registry's docker config into the build container only, the Git credentials
(private https repositories) into the clone container only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tawa.resource import API_VERSION, KIND, TawaServiceSpec

SHORT_SHA = 12
"""Characters of the commit SHA in tags and names (collision-safe for big repos)."""
SERVICE_LABEL = "tawa.insureco.io/service"
REVISION_LABEL = "tawa.insureco.io/revision"
COMPONENT_LABEL = "app.kubernetes.io/component"
BUILD_LOG_ANNOTATION = "tawa.insureco.io/build-log"
"""Where a builder without pod logs (or a test) leaves the build's last lines."""
IMAGE_ANNOTATION = "tawa.insureco.io/image"
_NAME_ROOM = 63 - len("-build-") - SHORT_SHA - len("-dockerfile")

_CLONE_SCRIPT = """\
set -eu
if [ -f /git-auth/.git-credentials ]; then
  git config --global credential.helper "store --file=/git-auth/.git-credentials"
fi
git init -q /workspace/src
cd /workspace/src
git remote add origin "$GIT_URL"
git fetch -q --depth 1 origin "$GIT_REVISION" || git fetch -q origin
git checkout -q --detach "$GIT_REVISION"
test "$(git rev-parse HEAD)" = "$GIT_REVISION"
cd "$CONTEXT_DIR"
if [ -f Dockerfile ]; then
  echo "Building with the repository's Dockerfile in $CONTEXT_DIR."
else
  echo "No Dockerfile in $CONTEXT_DIR: building with the one Tawa generated."
  cp /generated/Dockerfile Dockerfile
  [ -f .dockerignore ] || cp /generated/.dockerignore .dockerignore
fi
"""


def job_name(service: str, revision: str) -> str:
    """``{service}-build-{sha12}``; a long service name is shortened with a hash."""
    stem = service
    if len(stem) > _NAME_ROOM:
        digest = hashlib.sha256(service.encode()).hexdigest()[:6]
        stem = f"{service[: _NAME_ROOM - 7].rstrip('-')}-{digest}"
    return f"{stem}-build-{revision[:SHORT_SHA]}"


def configmap_name(job: str) -> str:
    return f"{job}-dockerfile"


def image_ref(registry: str, spec: TawaServiceSpec) -> str:
    """``{registry}/{owner}/{name}:{sha12}``: the tag the build pushes."""
    assert spec.source is not None
    return f"{registry.rstrip('/')}/{spec.owner}/{spec.name}:{spec.source.revision[:SHORT_SHA]}"


def labels(spec: TawaServiceSpec) -> dict[str, str]:
    assert spec.source is not None
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/managed-by": "tawa",
        COMPONENT_LABEL: "build",
        SERVICE_LABEL: spec.name,
        REVISION_LABEL: spec.source.revision,
    }


def owner_reference(
    *, name: str, uid: str, api_version: str = API_VERSION, kind: str = KIND
) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}


def job_manifest(
    spec: TawaServiceSpec,
    *,
    namespace: str,
    image: str,
    owner_uid: str,
    builder_image: str,
    git_image: str,
    deadline: int,
    registry_secret: str | None,
    git_secret: str | None = None,
) -> dict[str, Any]:
    """The build Job: clone the commit, then build and push ``image``."""
    assert spec.source is not None
    name = job_name(spec.name, spec.source.revision)
    context = f"/workspace/src/{spec.source.context_dir}".rstrip("/").removesuffix("/.")
    volumes: list[dict[str, Any]] = [
        {"name": "workspace", "emptyDir": {}},
        {"name": "buildkit-state", "emptyDir": {}},
        {"name": "generated", "configMap": {"name": configmap_name(name)}},
    ]
    build_mounts: list[dict[str, Any]] = [
        {"name": "workspace", "mountPath": "/workspace"},
        {"name": "buildkit-state", "mountPath": "/home/user/.local/share/buildkit"},
    ]
    if registry_secret:
        volumes.append(
            {
                "name": "registry-auth",
                "secret": {
                    "secretName": registry_secret,
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                },
            }
        )
        build_mounts.append(
            {"name": "registry-auth", "mountPath": "/home/user/.docker", "readOnly": True}
        )
    clone_mounts: list[dict[str, Any]] = [
        {"name": "workspace", "mountPath": "/workspace"},
        {"name": "generated", "mountPath": "/generated", "readOnly": True},
    ]
    if git_secret:
        volumes.append(
            {
                "name": "git-auth",
                "secret": {"secretName": git_secret, "items": [_key(".git-credentials")]},
            }
        )
        clone_mounts.append({"name": "git-auth", "mountPath": "/git-auth", "readOnly": True})
    clone = {
        "name": "clone",
        "image": git_image,
        "command": ["/bin/sh", "-c", _CLONE_SCRIPT],
        "env": [
            {"name": "GIT_URL", "value": spec.source.git},
            {"name": "GIT_REVISION", "value": spec.source.revision},
            {"name": "CONTEXT_DIR", "value": spec.source.context_dir},
            {"name": "HOME", "value": "/workspace"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
        "volumeMounts": clone_mounts,
    }
    build = {
        "name": "build",
        "image": builder_image,
        "command": ["buildctl-daemonless.sh"],
        "args": [
            "build",
            "--frontend=dockerfile.v0",
            f"--local=context={context}",
            f"--local=dockerfile={context}",
            f"--output=type=image,name={image},push=true",
        ],
        "env": [
            # No process sandbox: the pod runs without a privileged user namespace.
            {"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"},
            {"name": "DOCKER_CONFIG", "value": "/home/user/.docker"},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "seccompProfile": {"type": "Unconfined"},
            "appArmorProfile": {"type": "Unconfined"},
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": build_mounts,
    }
    pod_labels = labels(spec)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": pod_labels,
            "annotations": {IMAGE_ANNOTATION: image},
            "ownerReferences": [owner_reference(name=spec.name, uid=owner_uid)],
        },
        "spec": {
            "backoffLimit": 0,  # a commit that failed to build fails again
            "activeDeadlineSeconds": deadline,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    "initContainers": [clone],
                    "containers": [build],
                    "volumes": volumes,
                },
            },
        },
    }


def _key(name: str) -> dict[str, str]:
    return {"key": name, "path": name}


def configmap_manifest(
    job: dict[str, Any], *, dockerfile: str, dockerignore: str
) -> dict[str, Any]:
    """The generated files, owned by the Job so they go when it goes."""
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(meta["labels"]),
            "ownerReferences": [
                owner_reference(
                    name=meta["name"], uid=meta["uid"], api_version="batch/v1", kind="Job"
                )
            ],
        },
        "data": {"Dockerfile": dockerfile, ".dockerignore": dockerignore},
    }


def job_state(job: dict[str, Any]) -> str:
    """``succeeded``, ``failed`` or ``running``, as the Job controller reports it."""
    status = job.get("status") or {}
    conditions = {
        c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    if "Complete" in conditions or int(status.get("succeeded") or 0) > 0:
        return "succeeded"
    if "Failed" in conditions or int(status.get("failed") or 0) > 0:
        return "failed"
    return "running"


def failure_reason(job: dict[str, Any]) -> str:
    """The Job controller's word on a failure (e.g. ``DeadlineExceeded``)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return " ".join(filter(None, [condition.get("reason"), condition.get("message")]))
    return ""
