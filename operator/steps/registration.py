"""The registration step: the service's entry in the registry, which the gateway routes by.

After the release, ``ensure`` upserts the record: the upstream (the cluster
Service address, or ``ctx.facts["upstream"]`` when an earlier step found a
better one, as local runs do), the routes, the health path, owner, tier and
the metadata other components read (``scopes`` for grant requests). The
registry keeps an unchanged record's version, so the drift timer costs one
request and publishes nothing.

Routes (reference open question 9.2): a service that declares none gets one
catch-all prefix ``/api/{name}`` for every method, ``auth: required`` (safe by
default) and no gas; a worker, which serves no HTTP, gets none. ``remove``
deletes the record, which frees the routes.

Without a registry URL the step is skipped and says so. A route another
service holds is the user's to fix (permanent); an unreachable registry is
waited for (temporary, with a delay; the pipeline says when it retries).
"""

from __future__ import annotations

from typing import Any, ClassVar

import kopf

from tawa.clients.registry import (
    RegistryClient,
    RegistryRejected,
    RegistryUnavailable,
    Route,
    RouteConflict,
)
from tawa.operator.step import Outcome, StepContext
from tawa.resource import Framework, TawaServiceSpec
from tawa.upstreams import rewrite, upstream_map_from_env

_DEFAULT_DELAY = 15.0
_MISCONFIGURED_DELAY = 60.0


def upstream_of(ctx: StepContext) -> str:
    found = ctx.facts.get("upstream")
    address = (
        str(found)
        if found
        else f"http://{ctx.name}.{ctx.namespace}.svc.cluster.local:{ctx.spec.port}"
    )
    # On machines where no pod runs, a stand-in process plays the service.
    return rewrite(address, upstream_map_from_env())


def routes_of(spec: TawaServiceSpec) -> list[Route]:
    """The routes to publish: the catalog's, the catch-all, or none for a worker."""
    if spec.routes:
        return [
            Route(
                path=route.path,
                methods=[method.value for method in route.methods],
                auth=route.auth.value,
                gas=route.gas,
            )
            for route in spec.routes
        ]
    if spec.framework is Framework.WORKER:
        return []
    return [Route(path=f"/api/{spec.name}", methods=None, auth="required", gas=0)]


def metadata_of(ctx: StepContext) -> dict[str, Any]:
    spec: TawaServiceSpec = ctx.spec
    return {
        "namespace": ctx.namespace,
        "framework": spec.framework.value,
        "hostname": spec.hostname,
        "description": spec.description,
        "tags": list(spec.tags),
        "scopes": [scope.model_dump(mode="json", by_alias=True) for scope in spec.scopes],
    }


class RegistrationStep:
    name: ClassVar[str] = "registration"
    condition: ClassVar[str] = "Registered"

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def _client(self) -> RegistryClient | None:
        url = str(getattr(self.settings, "registry_url", "") or "")
        if not url:
            return None
        key = self.settings.internal_key.get_secret_value()
        return RegistryClient(url, internal_key=key)

    def _delay(self) -> float:
        return float(getattr(self.settings, "retry_delay", _DEFAULT_DELAY))

    async def ensure(self, ctx: StepContext) -> Outcome:
        client = self._client()
        if client is None:
            message = (
                "No registry is configured (TAWA_REGISTRY_URL is empty); routes are not published."
            )
            return Outcome(ok=True, reason="Skipped", message=message)
        spec: TawaServiceSpec = ctx.spec
        upstream = upstream_of(ctx)
        routes = routes_of(spec)
        async with client:
            try:
                record = await client.upsert_service(
                    ctx.environment,
                    ctx.name,
                    owner=spec.owner,
                    upstream=upstream,
                    routes=routes,
                    tier=spec.tier.value,
                    health_path=spec.health_path,
                    metadata=metadata_of(ctx),
                )
            except RouteConflict as exc:
                raise kopf.PermanentError(_conflict_message(exc, ctx)) from exc
            except RegistryRejected as exc:
                raise self._rejected(exc) from exc
            except RegistryUnavailable as exc:
                raise kopf.TemporaryError(f"{exc.message}.", delay=self._delay()) from exc
        if record.changed:
            ctx.logger.info(
                f"Registered {ctx.name} in {ctx.environment} at registry version {record.version}."
            )
        count = len(routes)
        return Outcome(
            ok=True,
            reason="Registered",
            message=(
                f"{count} route{'s' if count != 1 else ''} to {upstream} published at "
                f"registry version {record.version}."
            ),
            changed=record.changed,
        )

    def _rejected(self, exc: RegistryRejected) -> Exception:
        if exc.status in (401, 403):
            delay = _MISCONFIGURED_DELAY
            return kopf.TemporaryError(
                "The registry refused the operator's internal key; check TAWA_INTERNAL_KEY.",
                delay=delay,
            )
        problems = exc.details.get("problems") or []
        named = "; ".join(
            f"spec.{_spec_field(str(p.get('field', '')))}: "
            f"{str(p.get('message', '')).removeprefix('Value error, ')}"
            for p in problems
            if isinstance(p, dict)
        )
        return kopf.PermanentError(
            f"The registry refused the service record: {named or exc.message}"
        )

    async def remove(self, ctx: StepContext) -> None:
        client = self._client()
        if client is None:
            return
        async with client:
            try:
                removed = await client.delete_service(ctx.environment, ctx.name)
            except RegistryUnavailable as exc:
                raise kopf.TemporaryError(
                    f"{exc.message}; the routes stay published until it answers.",
                    delay=self._delay(),
                ) from exc
        if removed:
            ctx.logger.info(f"Removed {ctx.name} from the registry in {ctx.environment}.")


def _conflict_message(exc: RouteConflict, ctx: StepContext) -> str:
    method, path = exc.details.get("method"), exc.details.get("path")
    return (
        f"spec.routes: {method} {path} is already routed to service {exc.service!r} in "
        f"{ctx.environment}; choose another path or remove the route from {exc.service!r}."
    )


def _spec_field(location: str) -> str:
    """``routes.0.path`` as ``routes[0].path``."""
    parts = location.split(".")
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out
