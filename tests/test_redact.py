"""Tokens are cut out of log text in every form they take on the wire."""

from __future__ import annotations

import logging

import pytest

from core.protocol.redact import TokenRedactingFilter, redact_tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /?sendID=a&token=eyJ.x.y&platformID=5 HTTP/1.1", "GET /?sendID=a&token=<redacted>&platformID=5 HTTP/1.1"),
        ('{"token": "abc", "userID": "u"}', '{"token": "<redacted>", "userID": "u"}'),
        ("Authorization: Bearer s3cr3t", "Authorization: Bearer <redacted>"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_redact_tokens(text: str, expected: str) -> None:
    assert redact_tokens(text) == expected


def test_filter_rewrites_formatted_message() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "> GET %s", ("/?token=t0k3n",), None)
    assert TokenRedactingFilter().filter(record)
    assert record.getMessage() == "> GET /?token=<redacted>"
