"""core/protocol/jsonlimits.py: nesting-bounded JSON parsing (issue 10)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.protocol.jsonlimits import DEFAULT_MAX_DEPTH, JsonDepthError, check_depth, loads_bounded

FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=25,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[["', 0),
        ("[]", 1),
        ("[{}]", 2),
        ('{"a": [1, {"b": "]]]]"}]}', 3),
        (r'["\\", [["\"[[{"]]]', 3),
        ('[[["unterminated', 3),
    ],
)
def test_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    check_depth(text, depth)
    with pytest.raises(JsonDepthError, match=f"deeper than {depth - 1} levels"):
        check_depth(text, depth - 1)


def test_loads_bounded() -> None:
    assert loads_bounded('{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert loads_bounded(b'[1, "\xc3\xa9"]') == [1, "é"]
    assert loads_bounded('["é"]'.encode("utf-16")) == ["é"]  # the encodings json.loads detects
    nested = "[" * DEFAULT_MAX_DEPTH + "]" * DEFAULT_MAX_DEPTH
    assert loads_bounded(nested) is not None
    for too_deep in ("[" + nested + "]", "[" * 100_000, '{"a":' * 5000):
        with pytest.raises(JsonDepthError) as info:
            loads_bounded(too_deep)
        assert isinstance(info.value, ValueError) and info.value.max_depth == DEFAULT_MAX_DEPTH
    assert loads_bounded("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(JsonDepthError):
        loads_bounded("[[[1]]]", max_depth=2)
    for bad in (b"\xff[]", "[1,", "1" * 5000, ""):
        with pytest.raises(ValueError):  # json's own errors stay ValueErrors
            loads_bounded(bad)


@FAST
@given(JSON)
def test_depth_of_any_json(value: Any) -> None:
    text = json.dumps(value)
    assert loads_bounded(text, max_depth=_depth(value)) == json.loads(text)
    if _depth(value):
        with pytest.raises(JsonDepthError):
            check_depth(text, _depth(value) - 1)


@FAST
@given(st.text() | st.binary() | st.integers(0, 5000).map(lambda n: "[" * n + "{" * n))
def test_only_value_errors(data: str | bytes) -> None:
    with contextlib.suppress(ValueError):
        loads_bounded(data)
