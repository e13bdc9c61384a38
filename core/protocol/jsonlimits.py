"""Bounded JSON parsing: refuse nesting deeper than a limit before ``json.loads`` sees it.

``json.loads`` recurses once per nesting level, so ``'[' * 3000`` raises
``RecursionError`` (not ``ValueError``), and a document just under the
interpreter's limit parses fine and makes every later recursive walk of it
(pydantic, ``jsonable_encoder``, ``json.dumps``) fail instead. Checking the
depth first turns both into one ``ValueError`` the caller already handles.

The scan works on bytes with C-speed operations only (``replace``, ``split``,
``translate``; the running depth by ``itertools.accumulate``), so it costs
about what ``json.loads`` costs on the same text, and stops at the first chunk
that goes too deep.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "JsonDepthError", "JsonTooDeep", "check_depth", "loads_bounded"]

#: Far below the interpreter's recursion limit, far above any OpenIM structure (< 10 levels).
DEFAULT_MAX_DEPTH = 64

# '[' and '{' -> +1, ']' and '}' -> -1 (0xff read as a signed byte); everything else deleted.
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_CHUNK = 1 << 16


class JsonTooDeep(ValueError):
    """The text nests arrays/objects deeper than the limit."""


#: The same error under the name other modules of issue 10 were written against.
JsonDepthError = JsonTooDeep


def check_depth(text: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`JsonTooDeep` if brackets outside JSON strings nest deeper than ``max_depth``.

    The depth is the running count of ``[``/``{`` minus ``]``/``}``, strings
    (with their escapes) skipped: for valid JSON its nesting depth, and for
    any text an upper bound of how deep ``json.loads`` recurses before it
    fails. Text that is not JSON at all is left for ``json.loads`` to refuse.
    """
    raw = _utf8(text)
    if raw is None:
        return
    if b'"' in raw:
        if b"\\" in raw:
            # Escapes pair up left to right, as bytes.replace scans: drop escaped
            # backslashes first, then escaped quotes; every quote left delimits a string.
            raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
        raw = b"".join(raw.split(b'"')[::2])  # outside strings; an unterminated one is dropped
    steps = raw.translate(_STEP, _NOT_BRACKET)
    if steps.count(1) <= max_depth:
        return
    signed = memoryview(steps).cast("b")
    depth = 0
    for start in range(0, len(signed), _CHUNK):
        running = list(accumulate(signed[start : start + _CHUNK], initial=depth))
        if max(running) > max_depth:
            raise JsonTooDeep(f"JSON nests deeper than {max_depth} levels")
        depth = running[-1]


def loads_bounded(text: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads`` after :func:`check_depth`; raises only ``ValueError`` subclasses."""
    check_depth(text, max_depth)
    try:
        return json.loads(text)
    except RecursionError as exc:  # only with a max_depth near the interpreter's own limit
        raise JsonTooDeep(f"JSON nests too deep to parse: {exc}") from None


def _utf8(text: str | bytes) -> bytes | None:
    """The text as UTF-8 bytes (bytes in UTF-16/32 as json.loads would read them); None if undecodable."""
    if isinstance(text, str):
        # surrogatepass: a str decoded from JSON escapes may hold lone surrogates.
        return text.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(text)
    if encoding.startswith("utf-8"):
        return bytes(text)
    try:
        return text.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    except UnicodeError:
        return None
