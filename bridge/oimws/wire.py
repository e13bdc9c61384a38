"""The oimws wire format, without I/O: request frames in, response and event frames out.

Requests (open-im-sdk 3.5.2 src/types/entity.ts WsRequest; oimws jsCore.go Req)::

    {"reqFuncName": "AddBlack", "operationID": "...", "userID": "u1", "data": "[\\"u2\\",\\"\\"]"}

`data` is JSON *text* of an array of the call's arguments. Responses and
listener events (oimws ws_handler.go EventData, same key order)::

    {"event": "AddBlack", "errCode": 0, "errMsg": "", "data": "\\"\\"", "operationID": "..."}

A call result's `data` is the JSON encoding of the result, as Go's
`json.Marshal` gives it (a function without result answers `""`, two quote
characters). A listener event's `data` is the callback's string argument as
the Go SDK passes it: JSON text of the object or list, a plain number for
counts, and `""` for callbacks without argument (oimws ws_listener.go).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.protocol.errcodes import ErrCode
from core.protocol.jsonlimits import DEFAULT_MAX_DEPTH, JsonTooDeep, loads_bounded

__all__ = [
    "PROTOCOL_ERROR_EVENT",
    "FrameError",
    "Request",
    "error_frame",
    "event_frame",
    "parse_request",
    "result_frame",
]

#: The `event` of an answer to a frame that names no function (oimws MActor.go ProtocolError).
PROTOCOL_ERROR_EVENT = "Protocol Error"

# operationIDs travel on to the upstream as an HTTP header and into logs; the
# same rule as the REST face's operationID header (bridge/middleware.py).
_VALID_OP = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_MAX_NAME = 128


class FrameError(Exception):
    """A frame the bridge cannot run; answered with `event`, `operation_id` and the errCode."""

    def __init__(self, message: str, *, event: str = PROTOCOL_ERROR_EVENT, operation_id: str = "", code: int) -> None:
        super().__init__(message)
        self.message = message
        self.event = event
        self.operation_id = operation_id
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    func: str
    operation_id: str
    user_id: str | None
    args: list[Any]


def parse_request(frame: str | bytes, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Request:
    """Decode one client frame; FrameError says what is wrong with it.

    Binary frames are accepted when they hold UTF-8 JSON (mini-program runtimes
    may send an ArrayBuffer); anything over `max_bytes` is refused unread, and
    JSON nested deeper than `max_depth` (the frame, or its `data` text) is
    refused before `json.loads` would recurse into it.
    """
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode())
    if size > max_bytes:
        raise FrameError(f"frame of {size} bytes is larger than the {max_bytes}-byte limit", code=ErrCode.SdkArgsError)
    if isinstance(frame, bytes):
        try:
            frame = frame.decode()
        except UnicodeDecodeError as exc:
            raise FrameError(f"binary frame is not UTF-8 text: {exc}", code=ErrCode.SdkArgsError) from exc
    try:
        obj = loads_bounded(frame, max_depth)
    except JsonTooDeep as exc:
        raise FrameError(f"frame is refused: {exc}", code=ErrCode.SdkArgsError) from None
    except ValueError as exc:
        raise FrameError(f"frame is not JSON: {exc}", code=ErrCode.SdkArgsError) from exc
    if not isinstance(obj, dict):
        raise FrameError(
            f"frame must be a JSON object {{reqFuncName, operationID, userID, data}}, got {_kind(obj)}",
            code=ErrCode.SdkArgsError,
        )
    raw_op = obj.get("operationID")
    op = raw_op if isinstance(raw_op, str) and _VALID_OP.fullmatch(raw_op) else ""
    func = obj.get("reqFuncName")
    if not isinstance(func, str) or not func or len(func) > _MAX_NAME:
        raise FrameError(
            f"reqFuncName must be a function name (string of 1-{_MAX_NAME} characters), got {_kind(func)}",
            operation_id=op,
            code=ErrCode.SdkArgsError,
        )
    if not op:
        raise FrameError(
            "operationID must be 1-128 characters of [A-Za-z0-9._:-]",
            event=func,
            code=ErrCode.SdkArgsError,
        )
    user_id = obj.get("userID")
    if user_id is not None and not isinstance(user_id, str):
        raise FrameError(
            f"userID must be a string, got {_kind(user_id)}", event=func, operation_id=op, code=ErrCode.SdkArgsError
        )
    return Request(func, op, user_id or None, _arguments(obj.get("data"), func, op, max_depth))


def _arguments(data: Any, func: str, op: str, max_depth: int) -> list[Any]:
    if data is None or data == "":
        return []
    if not isinstance(data, str):
        raise FrameError(
            f"data must be a string holding a JSON array of arguments, got {_kind(data)}",
            event=func,
            operation_id=op,
            code=ErrCode.SdkArgsError,
        )
    try:
        args = loads_bounded(data, max_depth)
    except JsonTooDeep as exc:
        raise FrameError(f"data is refused: {exc}", event=func, operation_id=op, code=ErrCode.SdkArgsError) from None
    except ValueError as exc:
        raise FrameError(
            f"data is not JSON text: {exc}", event=func, operation_id=op, code=ErrCode.SdkArgsError
        ) from exc
    if not isinstance(args, list):
        raise FrameError(
            f"data must be JSON text of an array of arguments, got {_kind(args)}",
            event=func,
            operation_id=op,
            code=ErrCode.SdkArgsError,
        )
    return args


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def _frame(event: str, code: int, msg: str, data: str, operation_id: str) -> str:
    body = {"event": event, "errCode": code, "errMsg": msg, "data": data, "operationID": operation_id}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def result_frame(event: str, operation_id: str, result: Any) -> str:
    """A successful call: `data` is the JSON of the (jsonable) result, `""` for none."""
    return _frame(event, 0, "", _json("" if result is None else result), operation_id)


def error_frame(event: str, operation_id: str, code: int, msg: str) -> str:
    return _frame(event, int(code), msg, "", operation_id)


def event_frame(callback: str, payload: Any, operation_id: str | None) -> str:
    """A listener callback as oimws sends it (ws_listener.go)."""
    if callback == "OnConnectFailed" and isinstance(payload, dict):
        # OnConnectFailed(errCode, errMsg): the arguments go into errCode/errMsg.
        code = payload.get("errCode")
        msg = payload.get("errMsg")
        return _frame(
            callback, code if isinstance(code, int) else 0, msg if isinstance(msg, str) else "", "", operation_id or ""
        )
    if payload is None:
        data = ""
    elif isinstance(payload, str):
        data = payload
    elif isinstance(payload, int | float) and not isinstance(payload, bool):
        data = str(payload)  # OnTotalUnreadMessageCountChanged: fmt.Sprintf("%d")
    else:
        data = _json(payload)
    return _frame(callback, 0, "", data, operation_id or "")
