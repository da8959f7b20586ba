"""One reconcile of one TawaService: validate, run the steps, record the status.

The kopf handlers call :func:`ensure` and :func:`remove` and nothing else. This
module orders the steps, turns each outcome into a condition, writes the
status whenever it changed (so ``tawa deploy`` sees each step land), and
decides retry versus give-up: ``kopf.TemporaryError`` with a delay for a
dependency that is not ready, ``kopf.PermanentError`` for a spec the user
must change. It knows no step's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import kopf
from pydantic import ValidationError

from tawa.operator.conditions import StatusBook
from tawa.operator.kube import connect
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Step, StepContext
from tawa.resource import ConditionType, Phase, TawaServiceSpec, hostname_for

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]
StatusWriter = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""``writer(name, namespace, status)`` merges ``status`` into the resource's status."""


def validate(name: str, spec: Mapping[str, Any]) -> TawaServiceSpec:
    """The typed spec; ``kopf.PermanentError`` naming the first bad field otherwise."""
    try:
        parsed = TawaServiceSpec.model_validate(dict(spec))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(part) for part in error["loc"])
        is_key = loc[-1:] == ("[key]",)  # a map key is wrong, not its value
        loc = loc[:-1] if is_key else loc
        field = ".".join(["spec", *loc])
        # A config value may be a secret: the status and the Events never show it.
        hidden = (loc[:1] == ("config",) and not is_key) or field.endswith("secret")
        shown = "" if hidden else f" (got {error.get('input')!r})"
        raise kopf.PermanentError(f"{field}: {error['msg']}{shown}") from None
    if parsed.name != name:
        raise kopf.PermanentError(
            f"spec.name: must equal metadata.name {name!r} (got {parsed.name!r})"
        )
    return parsed


NAME_TAKEN = "NameTaken"


async def name_holder(
    meta: Mapping[str, Any], spec: TawaServiceSpec, *, settings: OperatorSettings
) -> str | None:
    """The namespace of an older TawaService with this name and environment, if any."""
    mine = (str(meta.get("creationTimestamp") or ""), str(meta["namespace"]))
    others = await connect(settings.kubeconfig).services_named(str(meta["name"]))
    for other in others:
        other_meta = other.get("metadata", {})
        environment = (other.get("spec") or {}).get("environment", "sandbox")
        theirs = (str(other_meta.get("creationTimestamp") or ""), str(other_meta.get("namespace")))
        if theirs != mine and environment == spec.environment.value and theirs < mine:
            return theirs[1]
    return None


def _was_refused_its_name(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("reason") == NAME_TAKEN
        for c in status.get("conditions") or []
    )


def public_url(spec: TawaServiceSpec, settings: OperatorSettings) -> str:
    host = spec.hostname or hostname_for(spec.name, spec.environment, settings.base_domain)
    return f"https://{host}"


def drift_is_due(meta: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Whether the drift timer should re-run ``ensure`` now.

    Not while deleting, not while a change handler still owns a newer
    generation, and not after a permanent failure (that waits for a new spec).
    """
    if meta.get("deletionTimestamp"):
        return False
    if status.get("observedGeneration") != meta.get("generation"):
        return False
    return status.get("phase") != Phase.FAILED.value


async def ensure(
    body: Mapping[str, Any],
    *,
    steps: Sequence[Step],
    settings: OperatorSettings,
    writer: StatusWriter,
    logger: Logger,
) -> None:
    meta, status = body["metadata"], dict(body.get("status") or {})
    name, namespace, generation = meta["name"], meta["namespace"], int(meta.get("generation", 1))
    book = StatusBook(status, generation=generation)

    async def flush() -> None:
        changes = book.changes()
        if changes is not None:
            await writer(name, namespace, changes)
            book.mark_stored()

    # A spec the user must fix ends here, named in the status and in an Event.
    try:
        spec = validate(name, body.get("spec") or {})
    except kopf.PermanentError as exc:
        book.failed(None, reason="InvalidSpec", message=str(exc))
        await flush()
        raise
    # Users, routes, the OAuth client and DNS are named by service and
    # environment, not namespace: a second resource must not take them over.
    holder = await name_holder(meta, spec, settings=settings)
    if holder is not None:
        message = (
            f"metadata.name: {name!r} in {spec.environment.value} is already deployed from "
            f"namespace {holder!r}; choose another name, or delete that TawaService first."
        )
        book.failed(None, reason=NAME_TAKEN, message=message)
        await flush()
        raise kopf.PermanentError(message)

    book.provisioning()
    book.status.url = public_url(spec, settings)
    ctx = _context(body, spec, settings=settings, logger=logger, status=status)
    recorded: list[str] = []
    for step in steps:
        await _run_step(step, ctx, book=book, settings=settings, flush=flush)
        if step.condition:
            recorded.append(step.condition)
        _record_facts(book, ctx)
        await flush()

    # Every step reported in: derive Ready and the phase from the conditions.
    if book.finish(recorded) and book.changes() is not None:
        logger.info(f"{namespace}/{name} is ready at {book.status.url}.")
    await flush()


async def remove(
    body: Mapping[str, Any],
    *,
    steps: Sequence[Step],
    settings: OperatorSettings,
    writer: StatusWriter,
    logger: Logger,
) -> None:
    """Run every step's ``remove`` in reverse order; kopf drops the finalizer after."""
    meta = body["metadata"]
    if _was_refused_its_name(body.get("status") or {}):
        # Refused before any step ran: what carries this name belongs to another resource.
        logger.info(f"{meta['namespace']}/{meta['name']} never held its name; nothing to remove.")
        return
    spec = _spec_to_remove(meta["name"], body.get("spec") or {}, body.get("status") or {})
    if spec is None:
        # An invalid spec never got past validation, so nothing was provisioned.
        logger.info(f"{meta['namespace']}/{meta['name']} had an invalid spec; nothing to remove.")
        return
    book = StatusBook(body.get("status"), generation=int(meta.get("generation", 1)))
    book.deleting()
    if (changes := book.changes()) is not None:
        await writer(meta["name"], meta["namespace"], changes)
    ctx = _context(
        body, spec, settings=settings, logger=logger, status=dict(body.get("status") or {})
    )
    ctx.deleting = True
    for step in reversed(steps):
        await step.remove(ctx)
        logger.debug(f"Step {step.name} removed its part of {meta['namespace']}/{meta['name']}.")


def _spec_to_remove(
    name: str, spec: Mapping[str, Any], status: Mapping[str, Any]
) -> TawaServiceSpec | None:
    """The spec whose parts ``remove`` takes away; ``None``: nothing to remove.

    An invalid spec may still have provisioned things: an earlier generation
    was valid, or an earlier version of the rules took it. Removal needs only
    who the service is and what it asked for, so the optional fields that fail
    today are left out. A resource whose status shows no step ever ran was
    refused at validation from the start and provisioned nothing.
    """
    try:
        return validate(name, spec)
    except kopf.PermanentError:
        if not _steps_ran(status):
            return None
    fields = dict(spec)
    for _ in range(len(fields)):
        try:
            parsed = TawaServiceSpec.model_validate(fields)
        except ValidationError as exc:
            failing = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if not failing or failing & _REQUIRED or not failing & set(fields):
                return None
            fields = {key: value for key, value in fields.items() if key not in failing}
            continue
        # Never remove under another service's name.
        return parsed if parsed.name == name else None
    return None


_REQUIRED = {
    field.alias or key for key, field in TawaServiceSpec.model_fields.items() if field.is_required()
}


def _steps_ran(status: Mapping[str, Any]) -> bool:
    conditions = status.get("conditions") or []
    ran = any(c.get("type") != ConditionType.READY.value for c in conditions)
    return ran or status.get("helmRevision") is not None


async def _run_step(
    step: Step,
    ctx: StepContext,
    *,
    book: StatusBook,
    settings: OperatorSettings,
    flush: Callable[[], Awaitable[None]],
) -> None:
    condition = step.condition or None
    try:
        outcome = await step.ensure(ctx)
    except kopf.PermanentError as exc:
        _record_facts(book, ctx)  # e.g. the revision a failed smoke test rolled back to
        book.failed(condition, reason="Failed", message=f"{exc} Change the spec to retry.")
        await flush()
        raise
    except kopf.TemporaryError as exc:
        delay = exc.delay or settings.retry_delay
        message = str(exc)
        if "retry" not in message.lower():
            message += f" Retrying in {delay:.0f}s."
        _wait(book, condition, reason="Waiting", message=message)
        await flush()
        raise
    except Exception as exc:
        # An unexpected failure is retried like a dependency that is not ready;
        # the type goes in the status, the details in the operator's log.
        ctx.logger.exception(f"Step {step.name} failed unexpectedly.")
        message = f"Step {step.name} failed ({type(exc).__name__}); retrying in "
        _wait(book, condition, reason="StepError", message=f"{message}{settings.retry_delay:.0f}s.")
        await flush()
        raise kopf.TemporaryError(message, delay=settings.retry_delay) from exc

    if condition:
        book.record(condition, outcome)
    if not outcome.ok:
        # A step that is not satisfied yet stops the pipeline: later steps
        # build on it. Retry after the usual delay.
        _wait(book, None, reason=outcome.reason, message=outcome.message)
        await flush()
        raise kopf.TemporaryError(outcome.message, delay=settings.retry_delay)
    level = logging.INFO if outcome.changed else logging.DEBUG
    ctx.logger.log(level, f"Step {step.name}: {outcome.message}")


def _record_facts(book: StatusBook, ctx: StepContext) -> None:
    """Copy what steps found about the Helm release into the status."""
    if "helm_revision" in ctx.facts:
        book.status.helm_revision = int(ctx.facts["helm_revision"])
    if "last_good_revision" in ctx.facts:
        book.status.last_good_revision = int(ctx.facts["last_good_revision"])


def _wait(book: StatusBook, condition: str | None, *, reason: str, message: str) -> None:
    if condition:
        book.waiting(condition, reason=reason, message=message)
    else:
        book.waiting("Ready", reason=reason, message=message)


def _context(
    body: Mapping[str, Any],
    spec: TawaServiceSpec,
    *,
    settings: OperatorSettings,
    logger: Logger,
    status: dict[str, Any],
) -> StepContext:
    meta = body["metadata"]
    return StepContext(
        name=meta["name"],
        namespace=meta["namespace"],
        environment=spec.environment.value,
        spec=spec,
        uid=str(meta.get("uid", "")),
        generation=int(meta.get("generation", 1)),
        settings=settings,
        logger=logger,
        status=status,
        annotations=dict(meta.get("annotations") or {}),
    )
