"""The position-keeping YAML reader."""

from __future__ import annotations

import math

import pytest

from tawa.catalog._yaml import Mark, YamlProblem, load_documents


def load(text: str):
    duplicates = []
    documents = load_documents(text, on_duplicate=lambda d, p, a, b: duplicates.append((p, a, b)))
    return documents, duplicates


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"),
        ("on", "on"),
        ("yes", "yes"),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("", None),
        ("0755", 755),
        ("0o17", 15),
        ("0x1F", 31),
        ("1:30", "1:30"),
        ("3000", 3000),
        ("-2", -2),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        (".inf", math.inf),
        ("'3000'", "3000"),
        ('"true"', "true"),
        ("9" * 5000, "9" * 5000),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value):
    (document,), _ = load(f"key: {text}\n")
    assert document.data == {"key": value}


def test_positions_of_keys_and_values_are_one_based():
    (document,), _ = load("a:\n  b: [1, 2]\n  c: x\n")
    assert document.keys[("a", "c")] == Mark(3, 3)
    assert document.values[("a", "c")] == Mark(3, 6)
    assert document.values[("a", "b", 1)] == Mark(2, 10)
    assert document.mark(("a", "missing", 0)) == Mark(2, 3)


def test_duplicate_keys_are_reported_with_both_positions_and_the_last_kept():
    (document,), duplicates = load("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert document.data == {"a": 3, "b": {"c": 2}}
    assert duplicates == [(("b", "c"), Mark(3, 3), Mark(4, 3)), (("a",), Mark(1, 1), Mark(5, 1))]


def test_empty_documents_are_skipped_and_indexes_kept():
    documents, _ = load("---\na: 1\n---\n---\nb: 2\n---")
    assert [(d.index, d.data) for d in documents] == [(0, {"a": 1}), (2, {"b": 2})]


def test_crlf_files_read_like_lf_files():
    (document,), _ = load("a: 1\r\nb:\r\n  - x\r\n")
    assert document.data == {"a": 1, "b": ["x"]}
    assert document.values[("b", 0)] == Mark(3, 5)


def test_merge_keys_fill_in_without_overriding():
    (document,), duplicates = load("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
    assert document.data["c"] == {"x": 1, "y": 3}
    assert duplicates == []


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("a: 1\nb:\n\t- x\n", "tabs", 3),
        ("a: ${{ values.name }}\nb: {%- if x %}\n", "template", 2),
        ("a: [1, 2\n", "YAML syntax error", 2),
        ("{{ cookiecutter.name }}: x\n", "mapping key", 1),
        ("a: &x [*x]\n", "own ancestor", 1),
        ("a: *nothing\n", "YAML syntax error", 1),
    ],
)
def test_broken_yaml_raises_with_a_position(text: str, words: str, line: int):
    with pytest.raises(YamlProblem) as caught:
        load(text)
    assert words in caught.value.message
    assert caught.value.mark.line == line


def test_alias_bombs_are_stopped():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(YamlProblem, match="too many values"):
        load("\n".join(lines) + "\n")
