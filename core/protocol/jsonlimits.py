"""JSON with a nesting limit: hostile input raises ValueError, never RecursionError.

`json.loads` recurses once per `[` / `{`; a few thousand of them (`'['*3000`)
exhaust the interpreter's stack and raise RecursionError, which callers that
catch ValueError do not expect (issue 10). `check_depth` scans the text for
brackets outside string literals first, so the parser only ever sees bounded
nesting. Go's decoder has the same guard (encoding/json scanner.go,
`maxNestingDepth` = 10000); ours is lower because Python's stack is shallower.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "JsonDepthError", "JsonTooDeep", "check_depth", "loads_bounded"]

DEFAULT_MAX_DEPTH = 64

# A whole string literal (escapes included) or one bracket; the unrolled form
# never backtracks, so the scan is linear and runs in the regex engine.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class JsonTooDeep(ValueError):
    """The JSON nests deeper than the allowed depth."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


JsonDepthError = JsonTooDeep  # the name the imserver side uses (same class)


def _text(raw: str | bytes | bytearray) -> str:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes | bytearray):
        raise TypeError(f"the JSON object must be str or bytes, not {type(raw).__name__}")
    # Decoded exactly as json.loads decodes bytes (UTF-8/16/32 by its first
    # bytes), so the scan sees the characters the parser will see.
    return bytes(raw).decode(json.detect_encoding(raw), "surrogatepass")


def check_depth(text: str | bytes | bytearray, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise JsonTooDeep if arrays/objects in `text` nest deeper than `max_depth`.

    Brackets inside string literals do not count. Input that is not JSON at all
    may pass (the parser then refuses it) or raise JsonTooDeep; both are ValueError.
    """
    decoded = _text(text)
    if max_depth < 0:
        raise JsonTooDeep(max_depth)  # even a scalar is 0 deep
    if decoded.count("[") + decoded.count("{") <= max_depth:
        return  # cannot nest deeper than it has brackets (most messages)
    depth = 0
    for match in _TOKENS.finditer(decoded):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
        elif token in ("]", "}"):
            # Below zero the text is invalid anyway; the parser stops there.
            depth = max(depth - 1, 0)


def loads_bounded(text: str | bytes | bytearray, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """`json.loads` for untrusted text: raises ValueError subclasses only
    (JsonTooDeep, json.JSONDecodeError, UnicodeDecodeError, ...), never RecursionError."""
    decoded = _text(text)
    check_depth(decoded, max_depth)
    return json.loads(decoded)
