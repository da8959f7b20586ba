"""A local Kubernetes API for tests and ``tawa dev``: kmock's emulator with the
semantics real clients (kopf, kubectl, Helm, the ``kubernetes`` package) need.

Run it with ``python -m tawa.localkube``.
"""

from tawa.localkube.objects import Kind
from tawa.localkube.server import LocalKube
from tawa.localkube.store import Store

__all__ = ["Kind", "LocalKube", "Store"]
