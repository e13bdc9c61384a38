"""Fixtures for the official-client interop tests (headless Chromium + @openim/client-sdk).

Needs: Chromium at /usr/bin/chromium, ``tests/interop/node_modules`` (``npm ci``) and the
browser bundle built from it (``node tests/interop/build.mjs``). ``scripts/install-interop.sh``
does all three. When node_modules is present but the bundle is missing or stale, the
``browser`` fixture rebuilds it (test-time build). Anything still missing: with ``CI``
set the tests fail with that instruction; otherwise they are skipped with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.interop.jsclient import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    INTEROP_DIR,
    NODE_MODULES,
    PageServer,
    bundle_problem,
    chromium_problem,
)
from tests.support.stack import Stack, run_stack_with

INSTALL_HINT = "run scripts/install-interop.sh"


def _unavailable(reason: str) -> None:
    msg = f"official-client interop unavailable: {reason}; {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


async def _build_bundle() -> str | None:
    """Build the page bundle with the pinned esbuild from node_modules; returns an error or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not on PATH (needed to build the bundle)"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(INTEROP_DIR / "build.mjs"),
        cwd=INTEROP_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        return f"bundle build failed: {out.decode(errors='replace')[-2000:]}"
    return None


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Session-wide headless Chromium (the machine's /usr/bin/chromium) driven by Playwright."""
    problem = chromium_problem()
    if problem:
        _unavailable(problem)
    problem = bundle_problem()
    if problem and (NODE_MODULES / "@openim" / "client-sdk").is_dir():
        build_error = await _build_bundle()
        problem = build_error or bundle_problem()
    if problem:
        _unavailable(problem)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The shared stack, but its imserver answers CORS as OpenIM does: the official client's
    page (served by PageServer, another origin) fetches the imserver API directly."""
    async with run_stack_with(tmp_path_factory.mktemp("interop-stack"), {"cors_any_origin": True}) as s:
        yield s


@pytest_asyncio.fixture(scope="session")
async def page_server(browser: Browser) -> AsyncIterator[PageServer]:
    """One loopback server for the page host, shared by every JsClient of the session."""
    server = await PageServer().start()
    try:
        yield server
    finally:
        await server.close()
