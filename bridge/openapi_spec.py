"""The OpenAPI document as clients and generators use it (issue 16).

FastAPI derives paths and schemas from the routes and the SDK registry; this
module adds what it cannot know and removes what is not true of the bridge:

- security: the session token as a Bearer scheme, and `?access_token=` for
  the event endpoints (EventSource cannot set headers);
- the headers the bridge reads (operationID, Prefer, Last-Event-ID) as
  parameters, and `operationID` on every answer;
- one `Problem` component referenced by every error answer, with `fields`;
- no 422: bad input answers 400 problem+json (bridge/errors.py);
- optional bodies as a plain optional `$ref` (not `anyOf [model, null]`,
  which generators turn into a required `Unset | None`);
- a body schema used only as request bodies written inline in each
  requestBody: generators then read its defaults as "may be omitted"
  (openapi-typescript types a component field with a default as required,
  since a component may also be an answer: HandleApplicationParams.handleMsg);
- every event as a 3.1 `webhooks` entry named by its callback, whose body is
  the webhook delivery (bridge/webhooks.py) with the event's payload type;
- the async 202 without a body schema, so a generated call's success type is
  the 200 result alone (its body, `{"operationID"}`, is in the description).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from bridge.event_catalog import BRIDGE, EVENTS

__all__ = [
    "ACCESS_TOKEN_SCHEME",
    "BEARER_SCHEME",
    "PROBLEM_REF",
    "PROBLEM_SCHEMA",
    "install_openapi",
    "problem_responses",
    "transform",
]

BEARER_SCHEME = "sessionToken"
ACCESS_TOKEN_SCHEME = "accessToken"
PROBLEM_REF: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details with OpenIM's error code (application/problem+json).",
    "required": ["status", "errCode", "errMsg", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "The HTTP status, repeated"},
        "errCode": {"type": "integer", "description": "OpenIM error code (1001 ArgsError, 1304 already friends, ...)"},
        "errMsg": {"type": "string", "description": "OpenIM error name"},
        "detail": {"type": "string", "description": "What went wrong, naming the field or value"},
        "operationID": {"type": ["string", "null"]},
        "fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "400 for bad input only: the dotted paths of the offending fields (`count`, "
            "`message.contentType`, `body` for the body as a whole)",
        },
    },
}

_TEXT: dict[int, str] = {
    400: "Bad input (fields names them), or a bad operationID/Last-Event-ID header",
    401: "No, unknown or ended session, or a refused OpenIM token (errCode says why: 1506 kicked, 1501 expired, ...)",
    403: "OpenIM refused it: no permission, not in the group, blocked, muted",
    404: "OpenIM has no such user, group or record",
    409: "Conflict with the current state (errCode: 1304 already friends, 1305 request handled, ...)",
    413: "Request body too large (BRIDGE_MAX_BODY_BYTES), or an OpenIM message over its size limit",
    429: "Too many open streams and polls for this session (BRIDGE_MAX_STREAMS_PER_SESSION)",
    502: "The upstream OpenIM server failed or is unreachable",
    503: "Session pool full, node draining or a store down; retry after Retry-After seconds",
    504: "The upstream OpenIM server did not answer in time",
}

_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error answers for a route's `responses=`, each a `Problem` by reference."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _TEXT[status],
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
        if status == 503:
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


_OPERATION_ID = {
    "name": "operationID",
    "in": "header",
    "required": False,
    "description": "OpenIM's call id: echoed in the answer, the logs and every event the call causes; a retry "
    "with the same operationID returns the first answer without running the call again. Generated when absent.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
}
_PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "`respond-async`: answer 202 at once; the outcome comes as a `callResult` event. Other "
    "preferences are ignored, as RFC 7240 section 2 requires.",
    "schema": {"$ref": "#/components/schemas/Prefer"},  # one type in generated clients, not one per call
}
_EVENT_ID_PATTERN = "^[0-9]{1,19}$"
_LAST_EVENT_ID: dict[str, Any] = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "Resume after this event id (EventSource sends it on reconnect; wins over ?lastEventId=).",
    "schema": {"type": "string", "pattern": _EVENT_ID_PATTERN},
}
_QUERY_TOKEN_OPS = {"streamEvents", "pollEvents"}
_PUBLIC_OPS = {"login", "healthz", "readyz", "metrics"}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def transform(spec: dict[str, Any]) -> dict[str, Any]:
    """Apply the module docstring's changes to FastAPI's document, in place; returns it."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    # A string, not an enum: the bridge ignores preferences it does not know (RFC 7240 section 2).
    schemas["Prefer"] = {"type": "string", "title": "Prefer", "examples": ["respond-async"]}
    components["headers"] = {
        "operationID": {"description": "The call's operationID (given or generated)", "schema": {"type": "string"}},
        "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
    }
    components["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "The `sessionToken` that POST /v1/login answers",
        },
        ACCESS_TOKEN_SCHEME: {
            "type": "apiKey",
            "in": "query",
            "name": "access_token",
            "description": "The session token as a query parameter, for EventSource and clients that cannot set "
            "headers (event endpoints only)",
        },
    }
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            _operation(operation)
    _inline_request_bodies(spec)
    spec["webhooks"] = _webhooks(schemas)
    _share_problem_responses(spec)
    return spec


def _share_problem_responses(spec: dict[str, Any]) -> None:
    """Each error answer once in components/responses, referenced by status (a third of the document)."""
    shared = spec["components"].setdefault("responses", {})
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for status, answer in operation.get("responses", {}).items():
                if status.isdigit() and int(status) in _TEXT and answer == problem_responses(int(status))[int(status)]:
                    name = f"Problem{status}"
                    shared[name] = answer
                    operation["responses"][status] = {"$ref": f"#/components/responses/{name}"}


_ENVELOPE_TEXT = (
    "Delivered the same way on every channel: on `GET /v1/events` as `event: {name}` with `data: {{listener, "
    "callback, operationID?, data}}`, on `/v1/events/poll` as `{{id, event, data}}` with that same `data`, and "
    "to webhooks as this body (headers X-Bridge-Event, X-Bridge-Delivery, X-Bridge-Signature)."
)
# The bridge's own events are logged as their payload alone (bridge/calls.py, session_close.py).
_BRIDGE_TEXT = (
    "Added by the bridge. On `GET /v1/events` as `event: {name}` whose `data:` is this body's `data` itself (no "
    "listener envelope), on `/v1/events/poll` as `{{id, event, data}}` with that same `data`, and to webhooks as "
    "this body (headers X-Bridge-Event, X-Bridge-Delivery, X-Bridge-Signature)."
)


def _payload_schema(payload: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema for `payload` (a type or a schema); model definitions go to components."""
    if isinstance(payload, dict):
        return payload
    schema = TypeAdapter(payload).json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    if isinstance(payload, type) and issubclass(payload, BaseModel):
        schemas.setdefault(payload.__name__, schema)  # a model by reference, as the 200 answers do
        return {"$ref": f"#/components/schemas/{payload.__name__}"}
    return schema


def _webhooks(schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ev in EVENTS:
        body = {
            "type": "object",
            "required": ["sessionID", "userID", "platformID", "id", "event", "data"],
            "properties": {
                "sessionID": {"type": "string"},
                "userID": {"type": "string"},
                "platformID": {"type": "integer"},
                "id": {"type": "integer", "description": "The per-session event id (SSE id:, poll id)"},
                "event": {"type": "string", "const": ev.name},
                "operationID": {"type": ["string", "null"], "description": "The call that caused it, if any"},
                "data": _payload_schema(ev.payload, schemas),
            },
        }
        out[ev.name] = {
            "post": {
                "operationId": f"event{ev.name[0].upper()}{ev.name[1:]}",
                "summary": ev.summary,
                "description": _BRIDGE_TEXT.format(name=ev.name)
                if ev.listener == BRIDGE
                else f"Listener `{ev.listener}`. " + _ENVELOPE_TEXT.format(name=ev.name),
                "tags": ["events"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {"200": {"description": "Acknowledged (any 2xx); anything else is retried"}},
            }
        }
    return out


def _refs(node: Any, counts: dict[str, int]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            counts[ref] = counts.get(ref, 0) + 1
        for value in node.values():
            _refs(value, counts)
    elif isinstance(node, list):
        for value in node:
            _refs(value, counts)


def _inline_request_bodies(spec: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    _refs(spec, counts)
    as_body: dict[str, list[dict[str, Any]]] = {}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = media.get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                as_body.setdefault(ref, []).append(media)
    schemas = spec["components"]["schemas"]
    for ref, uses in as_body.items():
        name = ref.removeprefix("#/components/schemas/")
        if counts.get(ref) == len(uses) and name in schemas:  # referenced from nowhere else
            schema = schemas.pop(name)
            for media in uses:
                media["schema"] = copy.deepcopy(schema)


def _operation(op: dict[str, Any]) -> None:
    op_id = op.get("operationId", "")
    responses: dict[str, Any] = op.setdefault("responses", {})
    responses.pop("422", None)
    params = [p for p in op.get("parameters", []) if p.get("name") != "access_token"]
    for p in params:
        if p.get("name") == "lastEventId":  # the query twin of Last-Event-ID: same form
            p["schema"] = {"type": "string", "pattern": _EVENT_ID_PATTERN}
    params.append(_OPERATION_ID)
    if op.get("tags") and "requestBody" in op and op_id not in _PUBLIC_OPS and op_id != "logout":
        params.append(_PREFER)  # every SDK function takes respond-async
    if op_id == "streamEvents":
        params.append(_LAST_EVENT_ID)
    op["parameters"] = params
    if op_id not in _PUBLIC_OPS:
        op["security"] = [{BEARER_SCHEME: []}]
        if op_id in _QUERY_TOKEN_OPS:
            op["security"].append({ACCESS_TOKEN_SCHEME: []})
    body = op.get("requestBody")
    if body is not None:
        media = body.get("content", {}).get("application/json", {})
        options = media.get("schema", {}).get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            media["schema"] = next(o for o in options if o != {"type": "null"})
            body["required"] = False
    accepted = responses.get("202")
    if accepted is not None:
        accepted.pop("content", None)
        accepted["headers"] = {"Preference-Applied": {"schema": {"type": "string", "enum": ["respond-async"]}}}
    for status, answer in responses.items():
        content = answer.get("content", {})
        if "text/event-stream" in content:
            content.pop("application/json", None)  # FastAPI's default; a stream is never JSON
        if status.startswith("2"):
            answer.setdefault("headers", {})["operationID"] = {"$ref": "#/components/headers/operationID"}


def install_openapi(app: FastAPI) -> None:
    """Serve the transformed document at /openapi.json (and to `openim-bridge openapi`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = transform(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
