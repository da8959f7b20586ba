"""Bio-ID throughput: client-credentials tokens/s and password logins/s.

Runs the identity service as a real process (uvicorn, in-memory MongoDB,
a private redis-server) with the PRODUCTION argon2 parameters, and compares
against two bare baselines in this process: an RS256 JWT signing loop (what a
token costs at the very least) and an argon2id verify loop (what a login
costs at the very least).

    .venv/bin/python bench/identity.py [--tokens 400] [--logins 40] [--concurrency 8]

Loopback only; every loop is bounded in count. Figures on a shared 2-core
machine are noisy: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import RSAKey

sys.path.append(str(Path(__file__).resolve().parent.parent))

from tawa.identity.settings import IdentitySettings
from tests.harness.identity_server import identity_server
from tests.harness.redis_server import redis_server

PASSWORD = "bench passphrase, long enough"
KEY = "bench-internal-key"


def bare_signing(count: int) -> float:
    key = RSAKey.generate_key(2048, parameters={"kid": "bench"})
    claims = {"iss": "x", "aud": "tawa", "sub": "svc", "scope": "a:b", "exp": 2_000_000_000}
    started = time.perf_counter()
    for _ in range(count):
        jwt.encode({"alg": "RS256", "kid": "bench"}, claims, key)
    return count / (time.perf_counter() - started)


def in_process_grant(redis_url: str, count: int) -> float:
    """The client-credentials grant without HTTP: lookup, passport, signing, record."""
    from tawa.identity import clients, oauth
    from tawa.identity.app import build_backend

    backend = build_backend(IdentitySettings(redis_url=redis_url, internal_key=KEY))
    _client, secret = clients.ensure_client(backend, "inproc-sandbox", redirect_uris=[], scopes=[])
    assert secret is not None
    started = time.perf_counter()
    for _ in range(count):
        found = clients.authenticate(backend, "inproc-sandbox", secret)
        assert found is not None
        oauth.client_credentials(backend, found, scope=None)
    return count / (time.perf_counter() - started)


def bare_argon2(hasher: PasswordHasher, count: int) -> float:
    stored = hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(count):
        hasher.verify(stored, PASSWORD)
    return count / (time.perf_counter() - started)


async def _loop(count: int, concurrency: int, call) -> float:
    queue = iter(range(count))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for n in queue:
            if not await call(n):
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{failures} of {count} requests failed; the figures would be wrong")
    return count / elapsed


async def service_figures(
    url: str, *, tokens: int, logins: int, concurrency: int
) -> tuple[float, float]:
    async with httpx.AsyncClient(base_url=url, headers={"X-Internal-Key": KEY}) as admin:
        (await admin.post("/admin/orgs", json={"slug": "bench"})).raise_for_status()
        made = await admin.put(
            "/admin/clients/bench-sandbox", json={"scopes": ["bench:read"], "org": "bench"}
        )
        secret = made.json()["clientSecret"]
        for n in range(concurrency):
            member = {"email": f"user{n}@bench.example", "password": PASSWORD, "role": "developer"}
            (await admin.post("/admin/orgs/bench/members", json=member)).raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {
            "grant_type": "client_credentials",
            "client_id": "bench-sandbox",
            "client_secret": secret,
        }

        async def token(n: int) -> bool:
            return (await http.post("/oauth/token", data=body)).status_code == 200

        await _loop(20, concurrency, token)  # warm up
        tokens_per_s = await _loop(tokens, concurrency, token)

        async def login(n: int) -> bool:
            login_body = {"email": f"user{n % concurrency}@bench.example", "password": PASSWORD}
            return (await http.post("/api/login", json=login_body)).status_code == 200

        logins_per_s = await _loop(logins, concurrency, login)
    return tokens_per_s, logins_per_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    production = IdentitySettings()
    hasher = PasswordHasher(
        time_cost=production.argon2_time_cost,
        memory_cost=production.argon2_memory_kib,
        parallelism=production.argon2_parallelism,
    )
    argon2_params = (
        f"argon2id t={hasher.time_cost} m={hasher.memory_cost} KiB p={hasher.parallelism} "
        f"(production defaults)"
    )
    signing = bare_signing(300)
    verifying = bare_argon2(hasher, 10)

    # The service runs with production argon2; only the login rate limit is lifted.
    service_env = {
        "TAWA_ARGON2_TIME_COST": str(hasher.time_cost),
        "TAWA_ARGON2_MEMORY_KIB": str(hasher.memory_cost),
        "TAWA_ARGON2_PARALLELISM": str(hasher.parallelism),
        "TAWA_LOGIN_RATE_PER_MINUTE": "100000",
        "TAWA_LOG_LEVEL": "WARNING",
    }
    with (
        redis_server() as redis,
        identity_server(redis.url, internal_key=KEY, env=service_env) as server,
    ):
        grants_per_s = in_process_grant(redis.url, 300)
        tokens_per_s, logins_per_s = asyncio.run(
            service_figures(
                server.url, tokens=args.tokens, logins=args.logins, concurrency=args.concurrency
            )
        )

    print(f"password hashing: {argon2_params}")
    print(f"concurrency: {args.concurrency} clients on loopback HTTP; in-memory MongoDB; RSA-2048")
    print(f"{'measure':<40}{'per second':>12}{'vs bare signing':>18}{'vs bare argon2':>16}")
    rows = [
        ("bare RS256 JWT signing (1 thread)", signing),
        ("bare argon2id verify (1 thread)", verifying),
        ("client-credentials grant (no HTTP)", grants_per_s),
        ("client-credentials tokens (service)", tokens_per_s),
        ("password logins (service)", logins_per_s),
    ]
    for label, rate in rows:
        print(f"{label:<40}{rate:>12.1f}{rate / signing:>17.3g}x{rate / verifying:>15.3g}x")


if __name__ == "__main__":
    main()
