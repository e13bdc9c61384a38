"""Reading what other users wrote: bounded JSON and typed reads that tolerate wrong types.

Message contents and notification tips reach a core from every peer that can
send it a message, official client or not (issue 10). OpenIM's Go SDK decodes
them with encoding/json into typed structs and, on an error, logs "Parsing data
error" and shows the message anyway (openim-sdk-core internal/conversation_msg
`msgHandleByContentType`). We do the same with the two helpers here:

- `load_json` parses as Go would accept: nesting bounded, no NaN/Infinity, no
  number that overflows a float64, lone UTF-16 surrogates replaced by U+FFFD
  (encoding/json decode.go `unquote`) and invalid UTF-8 bytes likewise, so
  whatever it returns can be re-encoded as strict UTF-8 JSON for clients
  (Starlette's JSONResponse refuses NaN and lone surrogates: a 500).
- `text`, `integer`, `flag`, `mapping`, `int_list`, `str_list` read one field
  of a decoded object whatever its JSON type; a wrong type reads as the zero
  value, as a missing field does.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from core.protocol.jsonlimits import DEFAULT_MAX_DEPTH, check_depth

__all__ = ["flag", "int_list", "integer", "load_json", "mapping", "str_list", "text"]

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(r"[+-]?[0-9]{1,19}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number {literal[:32]} overflows a float64")
    return value


def _clean(value: Any) -> Any:
    """Replace lone surrogates (from `\\ud800`-style escapes) in every string."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def load_json(raw: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse untrusted JSON; raises ValueError (of some subclass) and nothing else."""
    doc = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    check_depth(doc, max_depth)
    value = json.loads(doc, parse_constant=_no_constant, parse_float=_finite)
    return _clean(value) if _SURROGATE_ESCAPE.search(doc) else value


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def text(obj: Any, key: str) -> str:
    """A string field; a number reads as its digits, anything else as ""."""
    value = _get(obj, key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)  # an int64 sent as a string (protojson does)
    if isinstance(value, int) and _I64_MIN <= value <= _I64_MAX:
        return value
    return None


def _as_int(value: Any) -> int:
    # 0 is what Go leaves in an int64 it could not decode into.
    return _int_or_none(value) or 0


def integer(obj: Any, key: str) -> int:
    """An int64 field; a float with no fraction or a string of digits counts, anything else is 0."""
    return _as_int(_get(obj, key))


def flag(obj: Any, key: str) -> bool:
    value = _get(obj, key)
    return value if isinstance(value, bool) else bool(_as_int(value))


def mapping(obj: Any, key: str) -> dict[str, Any]:
    value = _get(obj, key)
    return value if isinstance(value, dict) else {}


def int_list(obj: Any, key: str, limit: int) -> list[int]:
    """At most `limit` int64 values of a list field (other items and types dropped)."""
    value = _get(obj, key)
    if not isinstance(value, list):
        return []
    out: list[int] = []
    for item in value:
        n = _int_or_none(item)
        if n is not None and not isinstance(item, bool):
            out.append(n)
            if len(out) == limit:
                break
    return out


def str_list(obj: Any, key: str, limit: int) -> list[str]:
    """At most `limit` strings of a list field (other items and types dropped)."""
    value = _get(obj, key)
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
            if len(out) == limit:
                break
    return out
