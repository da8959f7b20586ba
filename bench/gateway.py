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


def upstream_app() -> Any:
    jwks = Path(os.environ["BENCH_JWKS"]).read_bytes()
    body = b'{"ok":true,"service":"bench","items":[1,2,3]}'

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


GATEWAY_LAUNCHER = """
import sys, uvicorn
from tawa import logs
from tawa.gateway import Gateway, GatewaySettings
settings = GatewaySettings()
logs.configure("gateway", level=settings.log_level)
uvicorn.run(Gateway(settings), host="127.0.0.1", port=int(sys.argv[1]), http=sys.argv[2],
            loop=sys.argv[3], access_log=False, log_config=None, server_header=False,
            date_header=False)
"""


def start_gateway(env: dict[str, str], log: Path, *, http: str, loop: str) -> tuple[Any, str]:
    port = free_port()
    if http == "granian":
        args = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--no-ws"]
        args += [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            loop,
            "--log-level",
            "warning",
        ]
        args += ["tawa.gateway.app:from_environment"]
    elif (http, loop) == ("httptools", "uvloop"):
        args = [sys.executable, "-m", "tawa.gateway", "--port", str(port)]
    else:
        args = [sys.executable, "-c", GATEWAY_LAUNCHER, str(port), http, loop]
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
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--servers", action="store_true", help="also compare uvicorn set-ups")
    parser.add_argument("--clients", action="store_true", help="also compare upstream clients")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        import uvicorn

        uvicorn.run(
            upstream_app(),
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
    print(f"load: {tool}, {args.connections} connections, {args.seconds:g} s per target\n")

    workdir = Path(tempfile.mkdtemp(prefix="tawa-bench-gateway-"))
    key = RSAKey.generate_key(2048, parameters={"kid": "bench", "use": "sig"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with redis_server() as redis:
            results = measure_all(args, load, workdir, key, redis.url, processes)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
    report(results)


def measure_all(
    args: Any,
    load: Any,
    workdir: Path,
    key: RSAKey,
    redis_url: str,
    processes: list[subprocess.Popen[bytes]],
) -> list[tuple[str, dict[str, float]]]:
    up_port, reg_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    env = {
        "BENCH_JWKS": str(workdir / "jwks.json"),
        "TAWA_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    processes.append(
        spawn([sys.executable, __file__, "--serve-upstream", str(up_port)], env, workdir / "up.log")
    )
    wait_ready(upstream + "/health", processes[-1])

    common = {
        "TAWA_INTERNAL_KEY": KEY,
        "TAWA_REDIS_URL": redis_url,
        "TAWA_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    processes.append(
        spawn(
            [sys.executable, "-m", "tawa.registry", "--port", str(reg_port)],
            common,
            workdir / "registry.log",
        )
    )
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
    run = {"seconds": args.seconds, "connections": args.connections}

    results = [("direct", load(upstream + "/bench/open", headers=[], **run))]
    gateway, url = start_gateway(gateway_env, workdir / "gw.log", http="httptools", loop="uvloop")
    processes.append(gateway)
    results.append(("gateway, no auth", load(url + "/bench/open", headers=[], **run)))
    results.append(("gateway, auth", load(url + "/bench/auth", headers=auth, **run)))
    results.append(("gateway, auth + gas", load(url + "/bench/paid", headers=auth, **run)))
    stop(gateway)

    if args.servers:
        for http, loop in (("h11", "asyncio"), ("httptools", "asyncio"), ("granian", "uvloop")):
            gateway, url = start_gateway(gateway_env, workdir / "gw.log", http=http, loop=loop)
            processes.append(gateway)
            name = f"gateway, no auth ({http}+{loop})"
            results.append((name, load(url + "/bench/open", headers=[], **run)))
            stop(gateway)
    if args.clients:
        print("upstream client alone, GET on the upstream:")
        compare_clients(upstream + "/bench/open", args.seconds, args.connections)
        print()
    return results


def report(results: list[tuple[str, dict[str, float]]]) -> None:
    direct = results[0][1]
    print(f"{'target':<42}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs direct':>11}{'non-2xx':>9}")
    for name, r in results:
        ratio = r["rps"] / direct["rps"]
        print(
            f"{name:<42}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{ratio:>10.0%} {int(r['non2xx']):>8}"
        )
    gateway_rows = [r for name, r in results[1:4]]
    worst = min(r["rps"] for r in gateway_rows) / direct["rps"]
    verdict = "meets" if worst >= TARGET_RATIO else "misses"
    print(f"\nslowest gateway row keeps {worst:.0%} of direct: {verdict} the 50% target")


if __name__ == "__main__":
    main()
