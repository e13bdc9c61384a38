"""openapi/openapi.json is exactly what the app exports, and covers every SDK function."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.cli import openapi_document
from core.registry import all_functions

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def test_checked_in_spec_matches_the_app() -> None:
    assert SPEC.read_text() == openapi_document(), (
        "openapi/openapi.json is stale: run `.venv/bin/openim-bridge openapi > openapi/openapi.json`"
    )


def test_every_registered_function_is_one_operation() -> None:
    spec = json.loads(openapi_document())
    ops = {op["operationId"]: (path, op) for path, item in spec["paths"].items() for op in item.values()}
    for fn in all_functions().values():
        path, op = ops[fn.operation_id]
        assert path == fn.rest_path
        assert op["tags"] == [fn.module]
        assert "200" in op["responses"] and "400" in op["responses"] and "401" in op["responses"]
