"""BRIDGE_CORS_ORIGINS / --cors-origin are read and checked (issue 16)."""

from __future__ import annotations

import pytest

from bridge.cli import _parser
from bridge.settings import BridgeSettings


def test_env_lists_origins_comma_separated() -> None:
    s = BridgeSettings.from_env({"BRIDGE_CORS_ORIGINS": "https://app.example.com, http://127.0.0.1:8080"})
    assert s.cors_origins == ("https://app.example.com", "http://127.0.0.1:8080")


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/", "ftp://x", "https://a/b"])
def test_an_origin_that_a_browser_never_sends_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="CORS origin") as info:
        BridgeSettings.from_env({"BRIDGE_CORS_ORIGINS": bad})
    assert repr(bad) in str(info.value)


def test_cli_flag_is_repeatable() -> None:
    args = _parser().parse_args(["serve", "--cors-origin", "http://a:1", "--cors-origin", "http://b:2"])
    assert args.cors_origins == ["http://a:1", "http://b:2"]
