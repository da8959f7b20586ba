"""Benchmark: 200 TawaServices applied at once, until every one is Ready.

Real processes: the local Kubernetes API (``python -m tawa.localkube``, with
its request log on), the operator (``python -m tawa.operator``) and Helm. The
services are applied from a thread pool as fast as the API takes them; the
clock stops when the last one reports ``phase: Ready``.

Reported: wall time until all Ready, the operator's peak RSS (VmHWM of the
operator process; Helm runs in child processes and is not included), and API
requests per service, split by client (the operator's kopf watches and status
writes, the Kubernetes client, Helm). Steps that need services not running
here (gate, registration, smoke) are disabled.

    .venv/bin/python bench/operator_scale.py [--services 200] [--workers 20]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tawa.resource import GROUP, PLURAL, VERSION, crd_manifest  # noqa: E402
from tests.harness.operator import operator_process  # noqa: E402

_ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<code>\d+) \S+ "[^"]*" "(?P<agent>[^"]*)"'
)


def start_localkube(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str], Path]:
    log = workdir / "localkube.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.localkube", "--port", "0", "--state-dir", str(workdir),
         "--log-level", "INFO"],
        stdout=subprocess.PIPE, stderr=log.open("wb"),
    )  # fmt: skip
    header = {}
    assert process.stdout is not None
    while len(header) < 2:
        key, _, value = process.stdout.readline().decode().strip().partition(": ")
        if not key and process.poll() is not None:
            raise RuntimeError(f"localkube did not start; see {log}")
        header[key] = value
    env = dict(os.environ, KUBECONFIG=header["kubeconfig"])
    return process, env, log


def manifest(index: int) -> dict:
    name = f"svc-{index:03d}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TawaService",
        "metadata": {"name": name, "namespace": f"{name}-sandbox"},
        "spec": {
            "name": name, "owner": "bench-org", "environment": "sandbox",
            "framework": "express", "image": f"ghcr.io/bench/{name}:1.0",
            "tier": ["nano", "small", "medium"][index % 3], "healthPath": "/health",
            "config": {"FEATURE": "on"},
            "internalDependencies": [{"service": f"svc-{(index + 1) % 200:03d}"}],
        },
    }  # fmt: skip


def apply(api: client.ApiClient, body: dict) -> None:
    namespace = body["metadata"]["namespace"]
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )


def phases(api: client.ApiClient) -> collections.Counter[str]:
    listed = client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, PLURAL)
    return collections.Counter((i.get("status") or {}).get("phase", "-") for i in listed["items"])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def log_lines(log: Path) -> int:
    return len(log.read_text(errors="replace").splitlines())


def requests_by_client(
    log: Path, *, skip: int, until: int | None = None
) -> tuple[collections.Counter[str], int]:
    """Requests per client between two points of the log, and how many were writes."""
    counts: collections.Counter[str] = collections.Counter()
    writes = 0
    for line in log.read_text(errors="replace").splitlines()[skip:until]:
        found = _ACCESS.search(line)
        if found:
            agent = found["agent"].split("/")[0].split(" ")[0] or "unknown"
            counts[agent] += 1
            writes += found["method"] not in ("GET", "HEAD")
    return counts, writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--workers", type=int, default=20, help="kopf worker limit")
    parser.add_argument("--helm", type=int, default=8, help="concurrent helm commands")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--drift", type=float, default=60, help="drift interval; one idle interval is measured"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tawa-bench-"))
    kube, env, log = start_localkube(workdir)
    try:
        api = config.new_client_from_config(config_file=env["KUBECONFIG"])
        api.user_agent = "bench"
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
        settings = {
            "TAWA_DISABLED_STEPS": "gate,config,registration,smoke",
            "TAWA_WORKER_LIMIT": str(args.workers),
            "TAWA_HELM_CONCURRENCY": str(args.helm),
            "TAWA_DRIFT_INTERVAL": str(args.drift),
        }
        with operator_process(env, workdir=workdir / "op", **settings) as operator:
            baseline = log_lines(log)
            rss_idle = peak_rss_mib(operator.pid)
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: apply(api, manifest(i)), range(args.services)))
            applied = time.monotonic() - started

            seen: collections.Counter[str] = collections.Counter()
            while time.monotonic() - started < args.timeout:
                seen = phases(api)
                if seen.get("Ready", 0) == args.services:
                    break
                time.sleep(1)
            elapsed = time.monotonic() - started
            ready_at = log_lines(log)
            counts, _ = requests_by_client(log, skip=baseline, until=ready_at)

            # One drift interval with nothing to repair: reads only, no write.
            time.sleep(args.drift * 1.2)
            idle, idle_writes = requests_by_client(log, skip=ready_at)
            rss_peak = peak_rss_mib(operator.pid)
    finally:
        kube.terminate()
        kube.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)

    total = sum(counts.values())
    n = args.services
    print(f"services applied         {n} in {applied:.1f}s ({n / applied:.0f}/s)")
    print(f"all Ready after          {elapsed:.1f}s  ({elapsed / n * 1000:.0f} ms per service)")
    print(f"final phases             {dict(seen)}")
    growth = (rss_peak - rss_idle) * 1024 / n
    print(f"operator RSS             idle {rss_idle:.0f} MiB, peak {rss_peak:.0f} MiB")
    print(f"                         x{rss_peak / rss_idle:.2f}; {growth:.0f} KiB per service")
    print(f"API requests             {total} total, {total / n:.1f} per service")
    for agent, count in counts.most_common():
        print(f"  {agent:<22} {count:>7}  {count / n:6.1f} per service  {count / total:6.1%}")
    idle_total = sum(idle.values()) - idle.get("bench", 0)
    print(f"idle drift interval      {args.drift:.0f}s x1.2: {idle_total} requests "
          f"({idle_total / n:.1f} per service), {idle_writes} writes")  # fmt: skip
    for agent, count in idle.most_common():
        print(f"  {agent:<22} {count:>7}  {count / n:6.1f} per service")
    print(f"kopf worker limit {args.workers}, helm concurrency {args.helm}")


if __name__ == "__main__":
    main()
