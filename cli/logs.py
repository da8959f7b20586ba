"""``tawa logs``: a service's pod logs, or its latest build's, from the Kubernetes API.

Pods are found by the service chart's ``app.kubernetes.io/instance`` label;
``--build`` reads the newest build Job's pod (the clone, then the build
container). A cluster that runs no pods (the local API) has no logs: for a
build the Job's ``tawa.insureco.io/build-log`` annotation and state stand in.
``--follow`` streams the newest pod until its container ends.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tawa.cli import _output
from tawa.cli._cluster import ClusterError
from tawa.cli._output import EXIT_INVALID
from tawa.cli._workloads import Workloads, target
from tawa.resource import Environment

BUILD_LOG_ANNOTATION = "tawa.insureco.io/build-log"
BUILD_CONTAINERS = ("clone", "build")


def logs(
    name: Annotated[str | None, typer.Argument(help="Service name; default the catalog's.")] = None,
    build: Annotated[bool, typer.Option("--build", help="The latest build's log.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream new lines.")] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.", min=1)] = None,
    env: Annotated[
        Environment | None, typer.Option("--env", "-e", help="Environment (default sandbox).")
    ] = None,
    prod: Annotated[bool, typer.Option("--prod", help="Production.")] = False,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
) -> None:
    """Print a service's logs (or its latest build's with --build)."""
    name, namespace = target(name, env=env, prod=prod, namespace=namespace)
    errors = _output.stderr()
    try:
        workloads = Workloads()
        if build:
            _build_log(workloads, name, namespace, follow=follow, tail=tail)
        else:
            _service_log(workloads, name, namespace, follow=follow, tail=tail)
    except ClusterError as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(EXIT_INVALID) from None


def _service_log(
    workloads: Workloads, name: str, namespace: str, *, follow: bool, tail: int | None
) -> None:
    pods = workloads.pods(namespace, selector=f"app.kubernetes.io/instance={name}")
    if not pods:
        _output.stderr().print(f"No pods of {name} in namespace {namespace} (is it deployed?).")
        raise typer.Exit(EXIT_INVALID)
    if follow:
        _stream(workloads, pods[-1], namespace, container=None)
        return
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        if len(pods) > 1:
            typer.echo(f"==> pod/{pod_name} <==")
        typer.echo(workloads.log(pod_name, namespace, container=None, tail=tail), nl=False)


def _build_log(
    workloads: Workloads, name: str, namespace: str, *, follow: bool, tail: int | None
) -> None:
    jobs = workloads.build_jobs(name, namespace)
    if not jobs:
        _output.stderr().print(f"No build of {name} in namespace {namespace}.")
        raise typer.Exit(EXIT_INVALID)
    job = jobs[-1]
    job_name = job["metadata"]["name"]
    _output.stderr().print(f"Build Job {job_name}: {_state(job)}.", markup=False)
    pods = workloads.pods(namespace, selector=f"job-name={job_name}")
    if pods and follow:
        _stream(workloads, pods[-1], namespace, container="build")
        return
    if pods:
        pod_name = pods[-1]["metadata"]["name"]
        for container in BUILD_CONTAINERS:
            text = workloads.log(pod_name, namespace, container=container, tail=tail)
            if text:
                typer.echo(f"==> {container} <==")
                typer.echo(text, nl=False)
        return
    recorded = (job["metadata"].get("annotations") or {}).get(BUILD_LOG_ANNOTATION, "")
    if not recorded:
        _output.stderr().print("The build's pod is gone (or never ran): no log to show.")
        return
    lines = recorded.splitlines()
    typer.echo("\n".join(lines[-tail:] if tail else lines))


def _stream(
    workloads: Workloads, pod: dict[str, Any], namespace: str, *, container: str | None
) -> None:
    for chunk in workloads.follow(pod["metadata"]["name"], namespace, container=container):
        typer.echo(chunk, nl=False)


def _state(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return "succeeded" if condition["type"] == "Complete" else "failed"
    return (
        "succeeded" if status.get("succeeded") else "failed" if status.get("failed") else "running"
    )


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)
