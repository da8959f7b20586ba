from __future__ import annotations

import pytest

from tawa.errors import ConfigurationError
from tawa.upstreams import parse_upstream_map, rewrite

MAP = "hello.hello-sandbox.svc.cluster.local:8000=127.0.0.1:9000, a.b:1=127.0.0.2:2"


def test_a_mapped_address_is_rewritten_keeping_path_and_query() -> None:
    mapping = parse_upstream_map(MAP)
    url = "http://hello.hello-sandbox.svc.cluster.local:8000/health?x=1"
    assert rewrite(url, mapping) == "http://127.0.0.1:9000/health?x=1"


@pytest.mark.parametrize(
    "url",
    [
        "http://hello.hello-sandbox.svc.cluster.local:8001/health",
        "http://other:8000/",
        "http://hello.hello-sandbox.svc.cluster.local/health",
    ],
)
def test_other_addresses_are_left_alone(url: str) -> None:
    assert rewrite(url, parse_upstream_map(MAP)) == url


@pytest.mark.parametrize("entry", ["nohost=1.2.3.4:5", "a:1=b", "a:99999=b:1", "a:1"])
def test_malformed_entries_are_refused_naming_the_entry(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="TAWA_UPSTREAM_MAP entry"):
        parse_upstream_map(entry)


def test_empty_map_is_empty() -> None:
    assert parse_upstream_map("") == {}
