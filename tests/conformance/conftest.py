"""The real server's schema, read from the official wasm SDK (tests/support/conformance)."""

from __future__ import annotations

import os

import pytest

from tests.support.conformance.wasm_descriptors import Schema, load_schema, schema_problem


@pytest.fixture(scope="session")
def schema() -> Schema:
    problem = schema_problem()
    if problem is not None:
        message = f"OpenIM schema unavailable: {problem}; run scripts/install-interop.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return load_schema()
