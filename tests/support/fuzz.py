"""Hypothesis strategies for hostile upstream data, and the settings every fuzz test uses.

What another OpenIM user (or a broken server) can put in front of a core: any
bytes, JSON of any shape and type, nesting far past Python's recursion limit,
invalid UTF-8, lone surrogates, NaN and numbers that overflow a float64.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "CONTENT_TYPES",
    "contents",
    "deep_json",
    "fuzz",
    "hostile_text",
    "json_text",
    "json_values",
    "strict_json",
    "tips_contents",
]

# Small and quick: ~200 examples, no deadline (CI machines are shared), no
# example database written into the checkout.
fuzz = settings(
    max_examples=200,
    deadline=None,
    database=None,
    # A function-scoped fixture here is an HTTP client that every example may share.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# Every content type a core handles, plus neighbours and unknowns
# (openim-v3.md 4.3; open-im-server pkg/common/constant).
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            *range(101, 124),
            1201, 1202, 1203, 1204, 1205, 1206, 1207, 1208, 1209, 1210, 1211,
            *range(1500, 1522),
            1300, 1303, 1400, 1401, 1701, 1702,
            2001, 2101, 2102, 2150, 2155, 2200,
            0, 99, 1000, 1999, 3000,
        ]
    ),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud83d"]),  # lone surrogates (json.dumps escapes them)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _dumps(value: Any) -> str:
    return json.dumps(value)  # NaN, Infinity and lone-surrogate escapes included on purpose


def deep_json() -> st.SearchStrategy[str]:
    """Nesting far past the recursion limit, sometimes balanced, sometimes not."""
    return st.builds(
        lambda n, opener, tail: opener * n + tail + ("]" if opener == "[" else "}") * n,
        st.integers(min_value=0, max_value=5000),
        st.sampled_from(["[", '{"a":', '{"detail":', "[{}, "]),
        st.sampled_from(["", "1", '"x"', "[", "{"]),
    )


json_text = st.one_of(json_values.map(_dumps), deep_json())
hostile_text = st.one_of(
    json_text,
    st.text(),
    st.sampled_from(["NaN", "1e400", "-Infinity", '{"a": 1e999}', '"\\ud800"', '{"\\udfff": "\\ud83d"}', "9" * 5000]),
)


def _encodings(text: str) -> st.SearchStrategy[bytes]:
    raw = text.encode("utf-8", "surrogatepass")
    return st.sampled_from([raw, raw + b"\xff", b"\xc3" + raw, raw.replace(b'"', b'"\xed\xa0\x80', 1)])


# Message contents: hostile JSON text (also mangled into invalid UTF-8) or any bytes.
contents = st.one_of(hostile_text.flatmap(_encodings), st.binary(max_size=200))

_TIPS_KEYS = [
    "conversationID",
    "conversationIDList",
    "seq",
    "seqs",
    "hasReadSeq",
    "markAsReadUserID",
    "revokerUserID",
    "clientMsgID",
    "revokeTime",
    "sessionType",
    "sesstionType",
    "isAdminRevoke",
    "userID",
    "group",
    "detail",
]
_tips = st.fixed_dictionaries({}, optional={k: json_values for k in _TIPS_KEYS})
# Notification contents: {"detail": "<tips JSON>"} with tips of any shape, or anything at all.
tips_contents = st.one_of(
    _tips.map(lambda t: _dumps({"detail": _dumps(t)}).encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: _dumps({"detail": v}).encode("utf-8", "surrogatepass")),
    hostile_text.map(lambda t: _dumps({"detail": t}).encode("utf-8", "surrogatepass")),
    contents,
)


def strict_json(value: Any) -> bytes:
    """What a client receives: strict JSON in UTF-8 (raises where Starlette's JSONResponse would)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
