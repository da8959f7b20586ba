"""Stand-ins for the controllers and kubelets a real cluster runs.

Nothing runs containers here, so a Deployment would never become available
and ``helm --wait`` or an operator waiting for a rollout would hang. The
rollout controller below finishes every rollout at once: for each new spec of
a Deployment it keeps one ReplicaSet per pod template (owned by the
Deployment, labelled with ``pod-template-hash``, all replicas ready), scales
the older ReplicaSets to zero, and reports the Deployment as observed,
updated and Available. Garbage collection of owned objects is the store's.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from tawa.localkube.objects import Kind, Object, now
from tawa.localkube.selectors import Filter
from tawa.localkube.store import Event, Store

DEPLOYMENTS = Kind("apps", "v1", "deployments", "Deployment", namespaced=True, has_status=True)
REPLICA_SETS = Kind("apps", "v1", "replicasets", "ReplicaSet", namespaced=True, has_status=True)
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


class Rollouts:
    """Completes every Deployment rollout as soon as it is written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.listeners.append(self._follow)

    def _follow(self, event: Event) -> None:
        if event.key != DEPLOYMENTS.key or event.type == "DELETED":
            return
        deployment = event.obj
        meta = deployment["metadata"]
        observed = (deployment.get("status") or {}).get("observedGeneration")
        if meta.get("deletionTimestamp") or observed == meta.get("generation"):
            return
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        current = self._roll(deployment, replicas)
        self.store.update(
            DEPLOYMENTS,
            deployment,
            {"status": _deployment_status(deployment, current, replicas)},
            subresource="status",
        )

    def _roll(self, deployment: Object, replicas: int) -> str:
        """Scale the template's ReplicaSet to ``replicas``, the others to 0."""
        template = (deployment.get("spec") or {}).get("template") or {}
        template_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[
            :10
        ]
        name = f"{deployment['metadata']['name']}-{template_hash}"
        owned = self._owned(deployment)
        for replica_set in owned:
            if replica_set["metadata"]["name"] != name:
                self._scale(replica_set, 0)
        existing = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        if existing is None:
            revision = 1 + max((_revision(rs) for rs in owned), default=0)
            body = _replica_set(deployment, name, template_hash, replicas, revision)
            namespace = deployment["metadata"]["namespace"]
            created = self.store.create(REPLICA_SETS, namespace, body, dry_run=False)
            status = {"status": _replica_set_status(replicas, 1)}
            self.store.update(REPLICA_SETS, created, status, subresource="status")
        else:
            self._scale(existing, replicas)
        return name

    def _owned(self, deployment: Object) -> list[Object]:
        uid = deployment["metadata"]["uid"]
        replica_sets = self.store.select(
            REPLICA_SETS, Filter(namespace=deployment["metadata"]["namespace"])
        )
        return [
            rs
            for rs in replica_sets
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences", []))
        ]

    def _scale(self, replica_set: Object, replicas: int) -> None:
        if replica_set["spec"].get("replicas") == replicas:
            return
        scaled = copy.deepcopy(replica_set)
        scaled["spec"]["replicas"] = replicas
        updated = self.store.update(REPLICA_SETS, replica_set, scaled)
        status = _replica_set_status(replicas, updated["metadata"]["generation"])
        self.store.update(REPLICA_SETS, updated, {"status": status}, subresource="status")


def _revision(replica_set: Object) -> int:
    return int(replica_set["metadata"].get("annotations", {}).get(REVISION, "0"))


def _replica_set(
    deployment: Object, name: str, template_hash: str, replicas: int, revision: int
) -> Object:
    spec = deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    labels = {**(template.get("metadata") or {}).get("labels", {}), HASH_LABEL: template_hash}
    template.setdefault("metadata", {})["labels"] = labels
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = template_hash
    meta = deployment["metadata"]
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [owner],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }


def _replica_set_status(replicas: int, generation: int) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "observedGeneration": generation,
    }


def _deployment_status(deployment: Object, replica_set: str, replicas: int) -> dict[str, Any]:
    stamp = now()

    def condition(kind: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }

    return {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            condition(
                "Available", "MinimumReplicasAvailable", "Deployment has minimum availability."
            ),
            condition(
                "Progressing",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{replica_set}" has successfully progressed.',
            ),
        ],
    }
