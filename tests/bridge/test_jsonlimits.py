"""core.protocol.jsonlimits: the depth scan agrees with a plain character-by-character scanner."""

from __future__ import annotations

import json
import random

import pytest

from core.protocol.jsonlimits import JsonTooDeep, check_depth, loads_bounded


def reference_depth(text: str) -> int:
    """The deepest running bracket count outside strings, one character at a time.

    ``\\\\`` and ``\\"`` are units (inside strings the JSON escapes; outside,
    where a backslash is invalid JSON anyway, treated the same); a quote
    toggles the string state; an unterminated string runs to the end.
    """
    depth = deepest = 0
    in_string = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '\\"':
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        elif not in_string and c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_string and c in "]}":
            depth -= 1
        i += 1
    return deepest


def too_deep(text: str | bytes, max_depth: int) -> bool:
    try:
        check_depth(text, max_depth)
    except JsonTooDeep:
        return True
    return False


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "{{{{"]', 1),
        (r'["\"[[[", "]"]', 1),
        (r'["\\", [[]]]', 3),  # an escaped backslash does not escape the quote after it
        (r'["\\\"[[", []]', 2),
        ('["unterminated [[[[[', 1),
        ("[[[" + "]" * 10 + "[[", 3),  # stray closers: the running count goes negative
        ("[" * 65 + "]" * 65, 65),
    ],
)
def test_depth_of_known_texts(text: str, depth: int) -> None:
    assert reference_depth(text) == depth
    assert not too_deep(text, depth)
    assert too_deep(text, depth - 1) == (depth > 0)
    assert too_deep(text.encode(), depth - 1) == (depth > 0)


def test_agrees_with_the_reference_on_random_texts() -> None:
    rng = random.Random(10)
    alphabet = '[[[]]]{}"\\ a,:'
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        depth = reference_depth(text)
        limit = rng.randrange(0, 8)
        assert too_deep(text, limit) == (depth > limit), (text, limit)


def test_deep_input_across_many_chunks() -> None:
    """The scan runs in 64 KiB chunks carrying the depth across them."""
    wide = "[" + "[],\n" * 40_000 + "[[[1]]]]"
    assert not too_deep(wide, 4)
    assert too_deep(wide, 3)
    deep_at_the_end = "[]" * 100_000 + "[" * 70
    assert too_deep(deep_at_the_end, 64)


def test_bytes_in_other_encodings_and_lone_surrogates() -> None:
    doc = '{"k": [[["中文"]]]}'
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"):
        raw = doc.encode(encoding)
        assert not too_deep(raw, 4) and too_deep(raw, 3), encoding
    assert too_deep('["\ud800", [[]]]', 2)  # a str json.loads made from "\\ud800"
    check_depth(b"\xff\xfe\x00", 1)  # undecodable: left for json.loads to refuse


def test_loads_bounded() -> None:
    assert loads_bounded('{"a": [1, 2]}') == {"a": [1, 2]}
    assert loads_bounded(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(JsonTooDeep, match="deeper than 64"):
        loads_bounded("[" * 65 + "]" * 65)
    with pytest.raises(JsonTooDeep):
        loads_bounded("[" * 3000)  # unbalanced: json.loads would recurse 3000 deep before failing
    with pytest.raises(json.JSONDecodeError):
        loads_bounded("[1,")
    # A limit above the interpreter's own still raises only ValueError, never RecursionError.
    with pytest.raises(JsonTooDeep):
        loads_bounded("[" * 100_000 + "]" * 100_000, max_depth=1_000_000)
    assert issubclass(JsonTooDeep, ValueError)
