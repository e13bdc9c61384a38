"""Every registry function over REST on the real stack, each answer checked against its schema.

The scenario (tests/support/every_function.py) calls each function as one of
four users in an order that sets up what it needs; here each call is
`POST /v1/{module}/{method}` and its answer must be 200 with exactly
`{operationID, data}`, `data` a value of the function's declared result type,
and the whole body valid against the response schema of openapi/openapi.json
(which tests/test_openapi.py keeps equal to the export).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from core.registry import SdkFunction
from tests.support.every_function import STEPS, USERS, missing, run_every_function, upload_objects, validate_result
from tests.support.stack import Stack

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def _response_validators() -> dict[str, Draft202012Validator]:
    """Per REST path, a validator of its 200 body (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    spec = json.loads(SPEC.read_text())
    out = {}
    for path, item in spec["paths"].items():
        schema = item.get("post", {}).get("responses", {}).get("200", {}).get("content", {}).get("application/json")
        if schema is not None:
            # `$ref`s point into #/components: validate against a document that carries them.
            out[path] = Draft202012Validator({**schema["schema"], "components": spec["components"]})
    return out


def test_every_registry_function_has_a_step() -> None:
    """Fails at once, without a stack, when a function joins the registry without a step."""
    left = missing({s.fn for s in STEPS})
    assert not left, f"registry functions without a step in tests/support/every_function.py STEPS: {left}"


async def test_every_registry_function_answers_its_declared_schema(stack: Stack) -> None:
    ids = dict(zip(USERS, await stack.new_users(len(USERS), prefix="s"), strict=True))
    users = {who: await stack.login(uid) for who, uid in ids.items()}
    validators = _response_validators()

    async def invoke(who: str, fn: SdkFunction, params: dict[str, Any]) -> Any:
        op = f"smoke-{uuid.uuid4().hex}"
        r = await users[who].post(fn.rest_path, params, op=op)
        assert r.status_code == 200, f"{fn.name} as {who} with {params}: {r.status_code} {r.text}"
        body = r.json()
        assert set(body) == {"operationID", "data"} and body["operationID"] == op, f"{fn.name}: {body}"
        validate_result(fn, body["data"])
        assert fn.rest_path in validators, f"{fn.rest_path} has no 200 schema in {SPEC.name}"
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validators[fn.rest_path].iter_errors(body)]
        assert not errors, f"{fn.name}: answer does not fit {SPEC.name}: {errors}"
        return body["data"]

    kept = await upload_objects(stack.http, stack.api_url, await stack.token(ids["a"]), ids["a"])
    called = await run_every_function(ids, invoke, kept=kept)
    left = missing(called)
    assert not left, (
        f"registry functions no test calls: {left}. Add a step for each to tests/support/every_function.py "
        "STEPS (or, if it cannot run on imserver, an EXCLUDED entry saying why)."
    )
