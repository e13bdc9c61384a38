"""Property tests of core/protocol/jsonlimits.py (its example tests: tests/bridge/test_jsonlimits.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.protocol.jsonlimits import JsonDepthError, check_depth, loads_bounded

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


@FAST
@given(JSON)
def test_depth_of_any_json_is_exact(value: Any) -> None:
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
