"""The ``scale`` subresource (``kubectl scale``, autoscalers): a ``Scale``
view of an object's ``spec.replicas``, and writes through it."""

from __future__ import annotations

import copy

from tawa.localkube.errors import Invalid
from tawa.localkube.objects import Object


def view(obj: Object) -> Object:
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{key}={value}" for key, value in sorted(labels.items())),
        },
    }


def scaled(obj: Object, scale: Object) -> Object:
    """``obj`` with the replicas of ``scale``, keeping its resourceVersion
    precondition."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise Invalid(f"Scale is invalid: spec.replicas: Invalid value: {replicas!r}")
    new = copy.deepcopy(obj)
    new.setdefault("spec", {})["replicas"] = replicas
    expected = (scale.get("metadata") or {}).get("resourceVersion")
    new["metadata"]["resourceVersion"] = expected or obj["metadata"]["resourceVersion"]
    return new
