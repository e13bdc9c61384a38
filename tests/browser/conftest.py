"""Headless Chromium (the machine's /usr/bin/chromium, driven by Playwright) for page tests.

Needs only Chromium (scripts/install-interop.sh installs it), not the official-client
bundle of tests/interop. Missing: with CI set the tests fail saying so, else they skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.interop.jsclient import CHROMIUM_ARGS, CHROMIUM_PATH, chromium_problem


@pytest_asyncio.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    problem = chromium_problem()
    if problem:
        msg = f"headless Chromium unavailable: {problem}; run scripts/install-interop.sh"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
