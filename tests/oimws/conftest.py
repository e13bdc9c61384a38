"""Fixtures for the real-client test: the interop harness's browser, plus the open-im-sdk bundle.

Same rules as tests/interop/conftest.py: Chromium, node_modules and the bundle
(rebuilt here when stale); anything missing fails under `CI`, else skips.
"""

from __future__ import annotations

import pytest_asyncio
from playwright.async_api import Browser

from tests.interop.conftest import _build_bundle, _unavailable, browser, page_server
from tests.interop.jsclient import NODE_MODULES, open_im_sdk_bundle_problem

__all__ = ["browser", "open_im_sdk_page", "page_server"]


@pytest_asyncio.fixture(scope="session")
async def open_im_sdk_page(browser: Browser) -> None:
    """The open-im-sdk page bundle is built and fresh (the `browser` fixture checked Chromium)."""
    problem = open_im_sdk_bundle_problem()
    if problem and (NODE_MODULES / "open-im-sdk").is_dir():
        problem = await _build_bundle() or open_im_sdk_bundle_problem()
    if problem:
        _unavailable(problem)
