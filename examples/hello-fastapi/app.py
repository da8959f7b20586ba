"""hello-fastapi: the smallest service Tawa deploys end to end.

Run it locally with ``uvicorn app:app --port 8000`` from this folder. Behind
the gateway, ``/api/hello-fastapi/me`` needs a token: the gateway checks it and
forwards who the caller is in ``X-Tawa-User`` and ``X-Tawa-Org``; the service
trusts those headers because only the gateway can reach it.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Header

app = FastAPI(title="hello-fastapi")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/hello-fastapi/hello")
def hello(name: str = "world") -> dict[str, str]:
    return {
        "message": f"Hello, {name}!",
        "service": os.environ.get("SERVICE_NAME", "hello-fastapi"),
    }


@app.get("/api/hello-fastapi/me")
def me(
    x_tawa_user: str | None = Header(default=None),
    x_tawa_org: str | None = Header(default=None),
) -> dict[str, str | None]:
    return {"user": x_tawa_user, "org": x_tawa_org}
