"""What the databases and DNS steps cost per reconcile: first deploy vs unchanged.

Runs both steps for N services (MongoDB + Redis + one hostname each) against a
real redis-server, MongoDB's command boundary recorded in memory, an in-memory
Secret store and the Cloudflare fake through the real SDK. Prints, per service
and reconcile, the wall time, the Cloudflare calls (reads / writes), the MongoDB
commands (reads / writes), Redis ACL writes and Secret writes, and the ratio of
an unchanged reconcile (the drift timer's case) to the first one.

    .venv/bin/python bench/provisioning.py [--services 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # last: operator/ must not shadow

from pydantic import SecretStr

from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.redis_acl import RedisAcl
from tawa.operator.steps.databases import DatabasesStep
from tawa.operator.steps.dns import DnsStep
from tests.harness.cloudflare_fake import WRITE_METHODS, cloudflare_fake
from tests.harness.redis_server import redis_server
from tests.operator_steps.conftest import FakeSecrets, make_ctx, make_spec
from tests.operator_steps.recording_mongo import RecordingMongo


class CountingAcl(RedisAcl):
    setusers = 0

    async def ensure(self, user: Any, password: str) -> None:
        CountingAcl.setusers += 1
        await super().ensure(user, password)


async def _no_extras(ctx: Any, settings: Any) -> list[Any]:
    return []


async def run(count: int) -> None:
    with redis_server() as redis_srv, cloudflare_fake() as cloudflare:
        cloudflare.add_zone("tawa.insureco.io")
        settings = ProvisioningSettings(
            mongodb_admin_uri=SecretStr("mongodb://recorded/admin"),
            redis_admin_url=SecretStr(redis_srv.url),
            cloudflare_api_token=SecretStr(cloudflare.token),
            cloudflare_base_url=cloudflare.base_url,
            cloudflare_zone="tawa.insureco.io",
            ingress_target="ingress.tawa.insureco.io",
        )
        secrets, mongo = FakeSecrets(), RecordingMongo()
        acl = CountingAcl.from_url(redis_srv.url)
        databases = DatabasesStep(
            settings, secrets=secrets, mongo=mongo, redis=acl, grants=_no_extras
        )
        dns = DnsStep(settings, domains=_no_extras)
        specs = [
            make_spec(f"svc-{i}", databases=[{"type": "mongodb"}, {"type": "redis"}])
            for i in range(count)
        ]

        rows = {}
        for label in ("first deploy", "unchanged"):
            cloudflare.reset_calls()
            mongo.commands.clear()
            secrets.writes.clear()
            CountingAcl.setusers = 0
            started = time.perf_counter()
            for spec in specs:
                await databases.ensure(make_ctx(spec))
                await dns.ensure(make_ctx(spec))
            elapsed = (time.perf_counter() - started) / count * 1000
            calls = cloudflare.calls
            cf_writes = sum(1 for c in calls if c.method in WRITE_METHODS)
            rows[label] = {
                "ms": elapsed,
                "cf reads": (len(calls) - cf_writes) / count,
                "cf writes": cf_writes / count,
                "mongo reads": (len(mongo.commands) - len(mongo.writes())) / count,
                "mongo writes": len(mongo.writes()) / count,
                "acl writes": CountingAcl.setusers / count,
                "secret writes": len(secrets.writes) / count,
            }
        await acl.close()

    columns = list(rows["first deploy"])
    print(f"{count} services, per service and reconcile (databases + dns steps)")
    print(f"{'':14}" + "".join(f"{c:>14}" for c in columns))
    for label, figures in rows.items():
        print(f"{label:14}" + "".join(f"{figures[c]:>14.2f}" for c in columns))
    first, steady = rows["first deploy"], rows["unchanged"]
    print(f"{'ratio':14}" + "".join(
        f"{(steady[c] / first[c] if first[c] else 0):>14.2f}" for c in columns
    ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    asyncio.run(run(parser.parse_args().services))


if __name__ == "__main__":
    main()
