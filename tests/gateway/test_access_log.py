"""The access log line: JSON, no secrets, cheap enough to write for every request."""

from __future__ import annotations

import json
import logging

import pytest

from tawa.logs import JsonFormatter, RedactingFilter, redact


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def-ghi",
        "password=hunter2",
        "passwd: hunter2",
        "client_secret=s3cr3t",
        "refresh_token=r1",
        "code_verifier=v1",
        "api-key=k1",
        "X-Internal-Key: k1",
        "mongodb://user:pw@db:27017/x",
        "GET /reset/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl 200",
    ],
)
def test_secrets_are_still_masked(text: str) -> None:
    masked = redact(text)
    for secret in ("abc.def-ghi", "hunter2", "s3cr3t", "r1", "v1", "k1", ":pw@", "c2lnbmF0dXJl"):
        assert secret not in masked


def test_plain_lines_pass_unchanged() -> None:
    line = "GET /api/users/123/orders 200"
    assert redact(line) is line


def test_an_access_line_is_one_json_object() -> None:
    record = logging.LogRecord(
        "tawa.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", "/api/x", 200), None
    )
    record.fields = {"request_id": "r1", "service": "svc", "status": 200, "duration_ms": 1.5}
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter("gateway").format(record))
    assert line["message"] == "GET /api/x 200"
    assert (line["component"], line["service"], line["request_id"]) == ("gateway", "svc", "r1")
