"""Every answer of a companion service's app has the platform's error shape.

Found by hostile input: an unknown path, a wrong method or a body nested too
deep for the JSON parser came back as FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel

from tawa.web import create_app


class _Body(BaseModel):
    value: dict[str, object]


def _client() -> httpx.AsyncClient:
    app = create_app("test", title="test")

    @app.post("/v1/things")
    async def _things(body: _Body) -> dict[str, str]:
        return {"ok": "yes"}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "code"),
    [
        ("GET", "/nope", None, 404, "not_found"),
        ("GET", "/v1/things/..%2F..%2Fetc", None, 404, "not_found"),
        ("DELETE", "/v1/things", None, 405, "method_not_allowed"),
        ("POST", "/v1/things", b'{"value":' * 5000 + b"1" + b"}" * 5000, 400, "bad_request"),
    ],
)
async def test_framework_refusals_answer_in_the_error_shape(method, path, content, status, code):
    async with _client() as client:
        answer = await client.request(
            method, path, content=content, headers={"content-type": "application/json"}
        )

    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert "detail" not in answer.json()


async def test_method_not_allowed_keeps_the_allow_header():
    async with _client() as client:
        answer = await client.delete("/v1/things")

    assert answer.headers["allow"] == "POST"
