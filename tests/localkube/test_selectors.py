"""Label and field selectors."""

from __future__ import annotations

import pytest

from tawa.localkube.errors import BadRequest
from tawa.localkube.selectors import FieldSelector, Filter, LabelSelector


def obj(namespace: str = "ns", name: str = "a", **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "status": {}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("app in (web, db)", {"app": "db"}, True),
        ("app notin (web,db)", {"app": "db"}, False),
        ("app notin (web)", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("app=web,tier in (nano),!legacy", {"app": "web", "tier": "nano"}, True),
        ("tawa.insureco.io/env=prod", {"tawa.insureco.io/env": "prod"}, True),
    ],
)
def test_label_selector(selector, labels, expected):
    assert LabelSelector.parse(selector).matches(obj(**labels)) is expected


@pytest.mark.parametrize("selector", ["app=(x", "a b c", "in (x)"])
def test_bad_label_selector_is_a_400(selector):
    with pytest.raises(BadRequest):
        LabelSelector.parse(selector)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=a", True),
        ("metadata.name!=a", False),
        ("metadata.namespace=ns,metadata.name=a", True),
        ("metadata.namespace=other", False),
        ("status.phase=", True),
    ],
)
def test_field_selector(selector, expected):
    assert FieldSelector.parse(selector).matches(obj()) is expected


def test_filter_narrows_by_namespace_name_and_labels():
    flt = Filter(
        namespace="ns", labels=LabelSelector.parse("app=x"), fields=FieldSelector().with_name("a")
    )

    assert flt.matches(obj(app="x"))
    assert not flt.matches(obj(namespace="other", app="x"))
    assert not flt.matches(obj(name="b", app="x"))
    assert not flt.matches(obj())
