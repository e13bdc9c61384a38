"""openapi/openapi.json is exactly what the app exports, and covers every SDK function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, op) for path, item in spec["paths"].items() for op in item.values()]


def test_spec_declares_auth_headers_and_one_problem_without_422() -> None:
    """What Swagger UI and client generators need (issue 16), checked on every operation."""
    spec = json.loads(openapi_document())
    schemes = spec["components"]["securitySchemes"]
    assert schemes["sessionToken"] == {**schemes["sessionToken"], "type": "http", "scheme": "bearer"}
    assert schemes["accessToken"]["in"] == "query" and schemes["accessToken"]["name"] == "access_token"
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "fields" in spec["components"]["schemas"]["Problem"]["properties"]
    for path, op in _operations(spec):
        where = f"{path} {op['operationId']}"
        assert "422" not in op["responses"], where
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "operationID" in headers, where
        public = op["operationId"] in ("login", "healthz", "readyz", "metrics")
        assert ("security" in op) is not public, where
        for status, answer in op["responses"].items():
            if not status.startswith("2"):
                ref = answer.get("$ref", "")
                answer = spec["components"]["responses"][ref.removeprefix("#/components/responses/")] if ref else answer
                assert answer["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }, where
    # Uploads (multipart) have their own route: synchronous, no Prefer.
    fns = {fn.operation_id for fn in all_functions().values() if not fn.multipart}
    for path, op in _operations(spec):
        if op["operationId"] in fns:
            assert {"401", "409", "413", "502", "503"} <= set(op["responses"]), path
            assert "Prefer" in {p["name"] for p in op["parameters"]}, path
            assert "content" not in op["responses"]["202"], path  # the success type stays the 200 result
    events = spec["paths"]["/v1/events"]["get"]
    assert {"sessionToken": []} in events["security"] and {"accessToken": []} in events["security"]
    assert "Last-Event-ID" in {p["name"] for p in events["parameters"]}


def test_every_event_is_a_webhooks_entry_with_its_payload() -> None:
    spec = json.loads(openapi_document())
    hooks = spec["webhooks"]
    for name in ("OnRecvNewMessage", "OnFriendApplicationAdded", "OnRecvC2CReadReceipt", "callResult", "sessionClosed"):
        body = hooks[name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["event"]["const"] == name
        assert set(body["required"]) >= {"sessionID", "id", "event", "data"}
    message = hooks["OnRecvNewMessage"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert message["properties"]["data"] == {"$ref": "#/components/schemas/MsgStruct"}
    assert "MsgStruct" in spec["components"]["schemas"]
