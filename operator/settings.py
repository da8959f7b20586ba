"""The operator's settings, read from ``TAWA_*`` environment variables.

Everything the operator needs to find outside itself lives here: the Helm
binary and the service chart, the companion services' URLs, and the knobs
kopf is configured with at start-up (watch timeouts, worker limit, peering).
"""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from tawa.errors import ConfigurationError
from tawa.settings import CommonSettings

_REPO_CHART = Path(__file__).resolve().parent.parent / "charts" / "tawa-service"


class HealthMode(StrEnum):
    DEPLOYMENT = "deployment"
    """Healthy when the Deployment reports all replicas available (a real cluster)."""
    HTTP = "http"
    """Healthy when ``health_url_template`` answers 2xx (local runs with a stand-in process)."""
    ASSUME = "assume"
    """Healthy as soon as the Deployment exists (an API server without kubelet)."""


class OperatorSettings(CommonSettings):
    helm: str = ""
    """Path of the helm binary (``TAWA_HELM``); empty means the one on ``PATH``."""
    chart_path: Path = _REPO_CHART
    helm_timeout: float = Field(default=300.0, gt=0)
    """Seconds one helm command may take before it is killed."""
    helm_concurrency: int = Field(default=8, ge=1)
    """How many helm commands may run at once across all services."""
    helm_home: Path | None = None
    """Folder for HELM_CACHE_HOME/CONFIG_HOME/DATA_HOME; default a private temp dir."""
    helm_disable_openapi_validation: bool = False
    """For API servers that serve no OpenAPI document (the local API)."""
    kubeconfig: str | None = None
    """Kubeconfig for helm; default the one kopf and the client use."""

    watch_server_timeout: float = Field(default=300.0, gt=0)
    watch_client_timeout: float = Field(default=330.0, gt=0)
    worker_limit: int = Field(default=20, ge=1)
    peering_name: str = "tawa-operator"
    standalone: bool = False

    disabled_steps: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Step names left out of the pipeline (``TAWA_DISABLED_STEPS=health,smoke``)."""
    drift_interval: float = Field(default=300.0, gt=0)
    """Seconds between drift checks of one service."""
    retry_delay: float = Field(default=15.0, gt=0)
    """Seconds before a step waiting for a dependency is tried again."""
    health_mode: HealthMode = HealthMode.DEPLOYMENT
    health_url_template: str = "http://{name}.{namespace}.svc.cluster.local:{port}{path}"
    """For ``health_mode=http``: fields ``name``, ``namespace``, ``port``, ``path``."""
    health_timeout: float = Field(default=5.0, gt=0)

    ingress_enabled: bool = False
    """Give each service an Ingress for its public hostname."""
    ingress_class: str = ""
    ingress_tls: bool = True

    bio_id_url: str = ""
    """``BIO_ID_URL`` given to every pod; default ``identity_url``."""
    platform_services: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["iec-wallet", "koko", "janus", "bio-id", "iec-builder"]
    )
    """The platform's own services: they skip the deploy gate."""
    gate_retry_delay: float = Field(default=60.0, gt=0)
    """Seconds between deploy-gate checks while an org's reserve is short."""
    hosting_charge_interval: float = Field(default=600.0, gt=0)
    """Seconds between hosting-charge ticks; each hour is charged once whatever the rate."""

    @field_validator("platform_services", "disabled_steps", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        # Accept a JSON list or the friendlier comma-separated form.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    def helm_binary(self) -> str:
        """The helm executable; raises ``ConfigurationError`` saying how to provide one."""
        found = self.helm or shutil.which("helm")
        if not found or not Path(found).exists():
            raise ConfigurationError(
                "helm was not found: set TAWA_HELM to the binary (make setup puts one in "
                ".tools/bin/helm) or put helm on PATH"
            )
        return found

    def pod_bio_id_url(self) -> str:
        return (self.bio_id_url or self.identity_url).rstrip("/")

    def is_platform_service(self, name: str) -> bool:
        return name in self.platform_services
