"""The hello-fastapi example: the service the demo deploys."""

from __future__ import annotations

import importlib.util

import httpx

from tests.catalog.conftest import EXAMPLES


def load_app():
    spec = importlib.util.spec_from_file_location(
        "hello_fastapi_app", EXAMPLES / "hello-fastapi" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


async def test_health_public_and_identity_routes():
    transport = httpx.ASGITransport(app=load_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hello") as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/api/hello-fastapi/hello", params={"name": "Ada"})).json()[
            "message"
        ] == "Hello, Ada!"
        me = await client.get(
            "/api/hello-fastapi/me", headers={"X-Tawa-User": "u-1", "X-Tawa-Org": "demo-org"}
        )
        assert me.json() == {"user": "u-1", "org": "demo-org"}
