"""The smoke-test step: probe the released service before calling it ready.

Runs last, after the rollout is healthy, and owns ``SmokeTested`` (reference
3.3; catalog 0.5.0+, which is when a catalog can carry ``spec.tests``). Each
``spec.tests.smoke`` path is fetched with GET on the service's cluster
address (through ``TAWA_UPSTREAM_MAP`` where a local stand-in answers for it)
and its status compared to ``expect``. A probe that disagrees is retried with
the reference's back-off: up to 5 retries after 2, 4, 8, 16 and 32 s
(``TAWA_SMOKE_RETRIES``, ``TAWA_SMOKE_BACKOFF`` for the first delay). The
probes of one release run at the same time.

A revision that passes (or has no smoke tests) becomes ``status.lastGoodRevision``;
a revision that already passed is not probed again by the drift timer.

A failure is permanent until the spec changes (a later try of the same
release would only repeat the verdict). With ``spec.rollback: onFailure`` the
Helm release is rolled back to the last good revision first; without it the
failed release keeps running for debugging, as in the reference, and the
condition says so.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import httpx
import kopf

from tawa.operator.builder_settings import BuilderSettings
from tawa.operator.helm import Helm, HelmError
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import RollbackPolicy, SmokeTest, TawaServiceSpec, cluster_url_for
from tawa.upstreams import rewrite, upstream_map_from_env


class SmokeStep:
    name: ClassVar[str] = "smoke"
    condition: ClassVar[str] = "SmokeTested"

    def __init__(self, settings: OperatorSettings, builder: BuilderSettings | None = None) -> None:
        self.settings = settings
        self.builder = builder or BuilderSettings()
        self._helm: Helm | None = None

    async def ensure(self, ctx: StepContext) -> Outcome:
        spec: TawaServiceSpec = ctx.spec
        revision = ctx.facts.get("helm_revision")
        tests = spec.tests.smoke if spec.tests else []
        if not tests:
            self._good(ctx, revision)
            return Outcome(True, "NoSmokeTests", "No smoke tests declared (spec.tests.smoke).")
        passed = Outcome(
            True,
            "Passed",
            f"All {len(tests)} smoke tests passed on revision {revision}.",
        )
        if revision is not None and _already_passed(ctx, revision):
            self._good(ctx, revision)
            return passed

        failures = await self._run(ctx, tests)
        if not failures:
            self._good(ctx, revision)
            ctx.logger.info(f"Smoke tests of {ctx.namespace}/{ctx.name} passed.")
            return passed
        verdict = f"Smoke tests failed on revision {revision}: {'; '.join(failures)}."
        ctx.logger.error(verdict)
        raise kopf.PermanentError(f"{verdict} {await self._after_failure(ctx, revision)}")

    async def remove(self, ctx: StepContext) -> None:
        return None

    async def _run(self, ctx: StepContext, tests: list[SmokeTest]) -> list[str]:
        """A sentence per failed probe; empty when all passed."""
        spec: TawaServiceSpec = ctx.spec
        base = ctx.facts.get("upstream") or cluster_url_for(
            spec.name, spec.environment, port=spec.port
        )
        mapping = upstream_map_from_env()
        timeout = self.builder.smoke_timeout
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            results = await asyncio.gather(
                *(self._probe(client, rewrite(f"{base}{t.path}", mapping), t) for t in tests)
            )
        return [failure for failure in results if failure]

    async def _probe(self, client: httpx.AsyncClient, url: str, test: SmokeTest) -> str:
        """``""`` when ``GET url`` answered ``test.expect``, else what it did instead."""
        tries = self.builder.smoke_retries + 1
        seen = ""
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(self.builder.smoke_backoff * 2 ** (attempt - 1))
            try:
                answer = await client.get(url)
            except httpx.HTTPError as exc:
                seen = f"failed ({type(exc).__name__})"
                continue
            if answer.status_code == test.expect:
                return ""
            seen = f"answered {answer.status_code}"
        return f"GET {test.path} {seen}, expected {test.expect} ({tries} tries)"

    async def _after_failure(self, ctx: StepContext, revision: Any) -> str:
        """Roll back when the spec asks for it; say what happened to the release."""
        spec: TawaServiceSpec = ctx.spec
        if spec.rollback is not RollbackPolicy.ON_FAILURE:
            return (
                "The failed release is kept running for debugging "
                "(spec.rollback: onFailure would roll it back)."
            )
        target = ctx.status.get("lastGoodRevision")
        if not target or target == revision:
            return (
                "No earlier revision passed its smoke tests, so there is nothing to roll "
                "back to; the failed release is kept."
            )
        helm = self._helm_for()
        try:
            await helm.rollback(ctx.name, ctx.namespace, revision=int(target))
            release = await helm.status(ctx.name, ctx.namespace)
        except HelmError as exc:
            raise kopf.TemporaryError(
                f"Smoke tests failed on revision {revision} and the rollback to revision "
                f"{target} failed: {exc.message}",
                delay=self.settings.retry_delay,
            ) from exc
        if release is not None:
            ctx.facts["helm_revision"] = release.revision
        ctx.logger.warning(
            f"Rolled {ctx.namespace}/{ctx.name} back to revision {target} after failed smoke tests."
        )
        return f"Rolled back to revision {target}, the last one that passed."

    def _good(self, ctx: StepContext, revision: Any) -> None:
        if revision is not None:
            ctx.facts["last_good_revision"] = int(revision)

    def _helm_for(self) -> Helm:
        if self._helm is None:
            settings = self.settings
            home = settings.helm_home or Path(tempfile.mkdtemp(prefix="tawa-helm-"))
            self._helm = Helm(
                settings.helm_binary(),
                home=home,
                kubeconfig=settings.kubeconfig,
                timeout=settings.helm_timeout,
                concurrency=settings.helm_concurrency,
            )
        return self._helm


def _already_passed(ctx: StepContext, revision: int) -> bool:
    """This revision passed for this generation of the spec (a drift check)."""
    if ctx.status.get("lastGoodRevision") != revision:
        return False
    return any(
        c.get("type") == "SmokeTested"
        and c.get("status") == "True"
        and c.get("reason") == "Passed"
        and c.get("observedGeneration") == ctx.generation
        for c in ctx.status.get("conditions") or []
    )
