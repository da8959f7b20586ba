"""Settings of the build and smoke-test steps, read from ``TAWA_*`` variables.

Like :mod:`tawa.operator.provisioning_settings`, the steps read them through
this class, so the operator's own settings need not know them.
"""

from __future__ import annotations

from pydantic import Field

from tawa.settings import CommonSettings


class BuilderSettings(CommonSettings):
    image_registry: str = ""
    """Where built images are pushed, e.g. ``registry.example.com/tawa``; empty:
    services can only deploy prebuilt images."""
    registry_secret: str = ""
    """A ``kubernetes.io/dockerconfigjson`` Secret with push rights: ``NAME`` in the
    service's namespace, or ``NAMESPACE/NAME`` to copy it there; empty: anonymous."""
    git_secret: str = ""
    """A Secret whose ``.git-credentials`` key (git's credential-store format, e.g.
    ``https://tawa:TOKEN@git.example.com``) lets the clone read private https
    repositories: ``NAME`` or ``NAMESPACE/NAME`` as for ``registry_secret``."""
    builder_image: str = "moby/buildkit:v0.18.2-rootless"
    git_image: str = "alpine/git:v2.47.2"
    build_deadline: int = Field(default=1800, ge=60)
    """Seconds a build Job may run before Kubernetes stops it."""
    build_jobs_kept: int = Field(default=3, ge=1)
    """Finished build Jobs kept per service (their logs); older ones are deleted."""
    build_log_lines: int = Field(default=10, ge=1, le=100)
    """How many of a failed build's last log lines the ``Built`` condition quotes."""

    smoke_retries: int = Field(default=5, ge=0, le=10)
    """Retries of a failing smoke probe (reference 3.3: 5)."""
    smoke_backoff: float = Field(default=2.0, gt=0)
    """Seconds before the first retry; doubled for each next one (2, 4, 8, 16, 32)."""
    smoke_timeout: float = Field(default=10.0, gt=0)
    """Seconds one probe may take."""
