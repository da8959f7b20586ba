"""The gateway against the same upstream called directly, with the same load tool.

Starts, on loopback: Redis, the registry, a small upstream (uvicorn, one JSON
answer; it also serves the JWKS and a stand-in wallet that accepts usage), and
the gateway. Then drives each target with ``wrk`` (a Python load generator if
``wrk`` is missing) for a few seconds and prints requests per second, p50 and
p99 latency, and the ratios to the direct run:

- direct: the upstream itself;
- gateway, no auth: a route with ``auth: none`` and no gas;
- gateway, auth: ``auth: required`` with an RS256 token (verified once, then
  served from the gateway's token cache, as in production);
- gateway, auth + gas: the same with one gas per call, shipped to the wallet.

``--servers`` adds the gateway (no auth) under other uvicorn set-ups, and
``--clients`` compares upstream HTTP clients (aiohttp, httpx) in isolation:
the measurements behind the choices in ``tawa/gateway/__main__.py``.

    .venv/bin/python bench/gateway.py [--seconds 4] [--connections 32] [--servers] [--clients]

Everything shares the machine's cores (wrk, gateway, upstream), as a sidecar
deployment would; the target is at least half the direct throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.redis_server import free_port, redis_server  # noqa: E402

KEY = "bench-internal-key"
TARGET_RATIO = 0.5


# -- the upstream (run in its own process with --serve-upstream) -----------------------------


def upstream_app(kind: str) -> Any:
    """The upstream: a FastAPI service (like those Tawa deploys) or a bare ASGI callable.

    Either way it also stands in for the identity service (the JWKS) and the
    wallet (usage accepted, balances plenty), so the gateway has all it needs.
    """
    jwks = Path(os.environ["BENCH_JWKS"]).read_bytes()
    body = b'{"ok":true,"service":"bench","items":[1,2,3]}'
    service = _fastapi_service() if kind == "fastapi" else None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/.well-known/jwks.json":
            answer = jwks
        elif path == "/v1/usage":
            raw = b""
            while True:
                message = await receive()
                raw += message.get("body", b"")
                if not message.get("more_body"):
                    break
            events = json.loads(raw)["events"]
            answer = json.dumps({"results": [{"id": e["id"], "status": "charged"} for e in events]})
            answer = answer.encode()
        elif path.startswith("/v1/wallets/"):
            answer = b'{"apiSpendable": 1000000000}'
        elif service is not None:
            await service(scope, receive, send)
            return
        else:
            answer = body
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def _fastapi_service() -> Any:
    from fastapi import FastAPI

    service = FastAPI()

    @service.get("/bench/{rest:path}")
    async def answer(rest: str) -> dict[str, Any]:
        return {"ok": True, "service": "bench", "items": [1, 2, 3]}

    @service.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return service


# -- processes --------------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out, cwd=ROOT)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode})")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_gateway(
    env: dict[str, str], log: Path, server: str, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [sys.executable, "-m", "tawa.gateway", "--port", str(port)]
    args += ["--server", server, "--workers", str(workers)]
    process = spawn(args, env, log)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/readyz", process)
    return process, url


# -- load -----------------------------------------------------------------------------------------


def run_wrk(url: str, *, seconds: float, connections: int, headers: list[str]) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--latency", url]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _wrk_ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _wrk_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def _wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_python_load(
    url: str, *, seconds: float, connections: int, headers: list[str]
) -> dict[str, float]:
    import aiohttp

    async def main() -> dict[str, float]:
        hdrs = dict(h.split(": ", 1) for h in headers)
        latencies: list[float] = []
        non2xx = 0
        stop_at = time.perf_counter() + seconds
        async with aiohttp.ClientSession(headers=hdrs) as session:

            async def worker() -> None:
                nonlocal non2xx
                while time.perf_counter() < stop_at:
                    started = time.perf_counter()
                    async with session.get(url) as response:
                        await response.read()
                        non2xx += response.status >= 300
                    latencies.append(time.perf_counter() - started)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - began
        latencies.sort()
        return {
            "rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "non2xx": float(non2xx),
        }

    return asyncio.run(main())


def compare_clients(url: str, seconds: float, connections: int) -> None:
    import aiohttp

    async def measure(fetch: Any) -> tuple[float, float]:
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await fetch()
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        latencies.sort()
        return len(latencies) / (time.perf_counter() - began), latencies[len(latencies) // 2]

    async def main() -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits) as client:

            async def with_httpx() -> None:
                async with client.stream("GET", url) as response:
                    async for _ in response.aiter_raw():
                        pass

            rps, p50 = await measure(with_httpx)
            print(
                f"  {'httpx ' + httpx.__version__:<24}{rps:>10.0f} req/s   p50 {p50 * 1000:.2f} ms"
            )
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

            async def with_aiohttp() -> None:
                async with session.get(url) as response:
                    async for _ in response.content.iter_any():
                        pass

            rps, p50 = await measure(with_aiohttp)
            name = "aiohttp " + aiohttp.__version__
            print(f"  {name:<24}{rps:>10.0f} req/s   p50 {p50 * 1000:.2f} ms")

    asyncio.run(main())


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per run of one target")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs; medians shown")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--upstreams", default="fastapi,raw", help="fastapi, raw or both")
    parser.add_argument("--servers", action="store_true", help="also compare server set-ups")
    parser.add_argument("--clients", action="store_true", help="also compare upstream clients")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream-kind", default="raw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        import uvicorn

        uvicorn.run(
            upstream_app(args.upstream_kind),
            host="127.0.0.1",
            port=args.serve_upstream,
            http="httptools",
            loop="uvloop",
            access_log=False,
            log_level="warning",
        )
        return

    load = run_wrk if shutil.which("wrk") else run_python_load
    tool = "wrk" if load is run_wrk else "a Python aiohttp load generator (wrk is not installed)"
    print(
        f"load: {tool}, {args.connections} connections, {args.seconds:g} s per run, "
        f"{args.rounds} interleaved rounds (medians); {os.cpu_count()} cores shared by all\n"
    )
    for kind in args.upstreams.split(","):
        workdir = Path(tempfile.mkdtemp(prefix="tawa-bench-gateway-"))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            with redis_server() as redis:
                results = measure_all(args, load, kind, workdir, redis.url, processes)
        finally:
            for process in reversed(processes):
                stop(process)
            shutil.rmtree(workdir, ignore_errors=True)
        report(kind, results)


def measure_all(
    args: Any,
    load: Any,
    kind: str,
    workdir: Path,
    redis_url: str,
    processes: list[subprocess.Popen[bytes]],
) -> list[tuple[str, dict[str, float]]]:
    key = RSAKey.generate_key(2048, parameters={"kid": "bench", "use": "sig"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    level = os.environ.get("BENCH_LOG_LEVEL", "INFO")
    up_port, reg_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    up_args = [sys.executable, __file__, "--serve-upstream", str(up_port), "--upstream-kind", kind]
    env = {"BENCH_JWKS": str(workdir / "jwks.json")}
    processes.append(spawn(up_args, env, workdir / "up.log"))
    wait_ready(upstream + "/health", processes[-1])

    common = {"TAWA_INTERNAL_KEY": KEY, "TAWA_REDIS_URL": redis_url, "TAWA_LOG_LEVEL": level}
    registry_args = [sys.executable, "-m", "tawa.registry", "--port", str(reg_port)]
    processes.append(spawn(registry_args, {**common, "TAWA_LOG_LEVEL": "WARNING"}, workdir / "r"))
    registry = f"http://127.0.0.1:{reg_port}"
    wait_ready(registry + "/healthz", processes[-1])
    routes = [
        {"path": "/bench/open", "methods": ["GET"], "auth": "none", "gas": 0},
        {"path": "/bench/auth", "methods": ["GET"], "auth": "required", "gas": 0},
        {"path": "/bench/paid", "methods": ["GET"], "auth": "required", "gas": 1},
    ]
    httpx.put(
        f"{registry}/v1/services/sandbox/bench",
        headers={"X-Internal-Key": KEY},
        json={"owner": "bench", "upstream": upstream, "healthPath": "/health", "routes": routes},
    ).raise_for_status()

    gateway_env = {
        **common,
        "TAWA_REGISTRY_URL": registry,
        "TAWA_IDENTITY_URL": upstream,
        "TAWA_WALLET_URL": upstream,
    }
    now = int(time.time())
    claims = {"iss": upstream, "aud": "tawa", "sub": "bench-user", "orgSlug": "bench"}
    token = jwt.encode({"alg": "RS256", "kid": "bench"}, {**claims, "exp": now + 3600}, key)
    auth = [f"Authorization: Bearer {token}"]

    up_process = processes[0]

    def gateway(server: str, workers: int = 1) -> tuple[str, subprocess.Popen[bytes]]:
        process, url = start_gateway(gateway_env, workdir / "gw.log", server, workers)
        processes.append(process)
        return url, process

    main, main_process = gateway("uvicorn")
    targets = [
        ("direct", upstream + "/bench/open", [], None),
        ("gateway, no auth", main + "/bench/open", [], main_process),
        ("gateway, auth", main + "/bench/auth", auth, main_process),
        ("gateway, auth + gas", main + "/bench/paid", auth, main_process),
    ]
    if args.servers:
        for server, workers in (("granian", 1), ("uvicorn", 2), ("granian", 2)):
            url, process = gateway(server, workers)
            name = f"gateway, auth ({server}, {workers} worker{'s' if workers > 1 else ''})"
            targets.append((name, url + "/bench/auth", auth, process))
    if args.clients:
        print(f"[{kind} upstream] upstream HTTP client alone, GET on the upstream:")
        compare_clients(upstream + "/bench/open", args.seconds, args.connections)

    runs: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in targets}
    for _ in range(args.rounds):
        for name, url, headers, gateway_process in targets:
            # CPU seconds per request hold up better than req/s on a busy machine.
            before = (cpu_seconds(up_process), cpu_seconds(gateway_process))
            result = load(url, seconds=args.seconds, connections=args.connections, headers=headers)
            done = result["rps"] * args.seconds
            result["up_us"] = (cpu_seconds(up_process) - before[0]) / done * 1e6
            result["gw_us"] = (cpu_seconds(gateway_process) - before[1]) / done * 1e6
            runs[name].append(result)
    return [(name, _median(runs[name])) for name, *_ in targets]


def cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU of a process and its children (the workers), from /proc."""
    if process is None:
        return 0.0
    pids = [process.pid]
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def report(kind: str, results: list[tuple[str, dict[str, float]]]) -> None:
    direct = results[0][1]
    print(f"upstream: {kind}")
    print(
        f"  {'target':<38}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'vs direct':>10}"
        f"{'non-2xx':>8}{'upstream CPU':>14}{'gateway CPU':>13}"
    )
    for name, r in results:
        ratio = r["rps"] / direct["rps"]
        gateway_cpu = f"{r['gw_us']:>8.0f} us/req" if r["gw_us"] else f"{'-':>8}"
        print(
            f"  {name:<38}{r['rps']:>8.0f}{r['p50']:>8.2f}{r['p99']:>8.2f}{ratio:>9.0%}"
            f"{int(r['non2xx']):>8}{r['up_us']:>7.0f} us/req{gateway_cpu:>6}"
        )
    worst = min(r["rps"] for _, r in results[1:4]) / direct["rps"]
    verdict = "meets" if worst >= TARGET_RATIO else "misses"
    print(f"  slowest gateway row keeps {worst:.0%} of direct: {verdict} the 50% target\n")


if __name__ == "__main__":
    main()
