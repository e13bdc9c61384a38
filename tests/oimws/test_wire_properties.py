"""Property tests: anything a client can put in an oimws frame (issue 10).

`parse_request` may only raise FrameError, and `argmap.bind` only
ArgumentError, for any bytes, any JSON (deep, wrong-typed, invalid UTF-8), and
any argument list for every registry function: the connection answers 10002
and keeps the socket open, it never fails.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.oimws import argmap
from bridge.oimws.wire import FrameError, parse_request
from core.registry import all_functions
from tests.support.fuzz import deep_json, fuzz, hostile_text, json_values

FUNCTIONS = all_functions()
NAMES = sorted(n for n, f in FUNCTIONS.items() if not f.multipart)  # uploads stay in the package (README)
MAX_FRAME = 1 << 20


def _frame(func: Any, op: Any, user: Any, data: Any) -> str:
    return json.dumps({"reqFuncName": func, "operationID": op, "userID": user, "data": data})


@fuzz
@given(st.binary(max_size=2048))
def test_any_bytes(raw: bytes) -> None:
    with contextlib.suppress(FrameError):
        parse_request(raw, MAX_FRAME)


@fuzz
@given(st.one_of(hostile_text, deep_json(), json_values.map(json.dumps)))
def test_any_text(text: str) -> None:
    with contextlib.suppress(FrameError):
        parse_request(text, MAX_FRAME)


@fuzz
@given(
    st.one_of(st.sampled_from(NAMES), json_values),
    st.one_of(st.just("op-1"), json_values),
    st.one_of(st.none(), st.just("u1"), json_values),
    st.one_of(json_values, json_values.map(json.dumps), deep_json()),
)
def test_frames_of_any_shape(func: Any, op: Any, user: Any, data: Any) -> None:
    with contextlib.suppress(FrameError):
        parse_request(_frame(func, op, user, data), MAX_FRAME)


@fuzz
@given(st.sampled_from(NAMES), st.lists(st.one_of(json_values, json_values.map(json.dumps), deep_json()), max_size=6))
def test_arguments_of_any_shape_for_every_function(name: str, args: list[Any]) -> None:
    bound = argmap.resolve(name, FUNCTIONS)
    assert bound is not None, name
    with contextlib.suppress(argmap.ArgumentError):
        argmap.bind(bound, args)
