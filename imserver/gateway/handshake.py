"""Opening handshake of the message gateway: query parsing, token check, error bodies.

Pure functions over the request path and headers (openim-v3.md 2.1, 2.2). Parsing
mirrors open-im-server internal/msggateway/context.go (ParseEssentialArgs,
parseByQuery, parseByJson, checkInfo); the checks and their order mirror
ws_server.go wsHandler.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from core.protocol.constants import PLATFORM_NAMES
from core.protocol.errcodes import ErrCode
from core.protocol.jsonlimits import loads_bounded
from imserver.errors import ImError

__all__ = [
    "ConnArgs",
    "SdkType",
    "TokenClaims",
    "TokenVerifier",
    "authenticate",
    "error_body",
    "parse_args",
    "wants_text_response",
]


class SdkType(StrEnum):
    GO = "go"
    JS = "js"


class TokenClaims(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def platform_id(self) -> int: ...


class TokenVerifier(Protocol):
    """The part of imserver.tokens.TokenService the gateway uses."""

    async def verify(self, token: str) -> TokenClaims: ...

    async def mark_kicked(self, user_id: str, platform_id: int, except_token: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class ConnArgs:
    user_id: str
    token: str
    platform_id: int
    operation_id: str
    compression: bool
    sdk_type: SdkType
    send_response: bool
    background: bool


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_GO_INT = re.compile(r"[+-]?[0-9]+")
_B64URL_RAW = re.compile(r"[A-Za-z0-9_-]*")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_I64_DIGITS = 19


def _go_atoi(value: str) -> int | None:
    """strconv.Atoi on 64-bit Go: an optional sign and decimal digits in int64 range."""
    if not _GO_INT.fullmatch(value) or len(value.lstrip("+-").lstrip("0")) > _I64_DIGITS:
        return None  # (the length test keeps int() clear of its 4300-digit limit)
    number = int(value)
    return number if _I64_MIN <= number <= _I64_MAX else None


def _parse_bool(value: str) -> bool | None:
    """Go strconv.ParseBool; None when Go would fail."""
    return True if value in _GO_TRUE else False if value in _GO_FALSE else None


def clean_path_redirect(target: str) -> str | None:
    """Where Go's http.ServeMux redirects (301) a request target whose path is not clean,
    else None. The real gateway serves http.HandleFunc("/") on the default mux
    (internal/msggateway/ws_server.go, Handler: nil), whose cleanPath turns `//` into `/`
    and `/a/../b` into `/b`, keeping a trailing slash; the query rides along."""
    path, sep, query = target.partition("?")
    if not path:
        return None
    clean = posixpath.normpath("/" + path.lstrip("/"))
    if path.endswith("/") and clean != "/":
        clean += "/"
    return None if clean == path else clean + sep + query


def _query(path: str) -> dict[str, str]:
    # url.Values.Get: the first value of a key, "" when absent.
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


def _conn_args_err(detail: str) -> ImError:
    return ImError(ErrCode.ConnArgsErr, detail)


def wants_text_response(path: str) -> bool:
    """Whether errors go out as a text frame (isMsgResp / v.sendResponse).

    OpenIM only knows this once parsing has succeeded (c.info is set last, in
    checkInfo), so 1601/1602 always become HTTP answers there. We honour the flag as
    soon as it can be read: a browser cannot see an HTTP error body at all.
    """
    query = _query(path)
    if v := query.get("v"):
        try:
            info = _json_value(_b64url_raw(v))
        except (ValueError, binascii.Error):
            return False
        return isinstance(info, dict) and _get_ci(info, "sendResponse") is True
    return _parse_bool(query.get("isMsgResp", "")) is True


def _b64url_raw(data: str) -> bytes:
    # base64.RawURLEncoding: URL alphabet, no padding.
    if not _B64URL_RAW.fullmatch(data):
        raise binascii.Error("not base64url")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _get_ci(obj: Mapping[str, Any], key: str) -> Any:
    """encoding/json matches keys case-insensitively (exact match preferred)."""
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return v
    return None


def _json_value(raw: bytes) -> Any:
    """json.Unmarshal's view of `raw`; ValueError where Go's would fail.

    Invalid UTF-8 becomes U+FFFD, as Go decodes it. Nesting is bounded far below Go's
    10000 levels (scanner.go maxNestingDepth) because Python's parser recurses: deeper
    input is "data is not json" here, where Go would ignore it in an unknown field.
    """
    return loads_bounded(raw.decode("utf-8", "replace"))


def _go_string(value: str) -> str:
    # Go decodes a lone surrogate escape (\ud800) to U+FFFD; a Python str would keep it
    # and fail later where it is encoded (the token's JWT check).
    return _LONE_SURROGATE.sub("\ufffd", value)


def _parse_json_info(data: str) -> dict[str, Any]:
    try:
        raw = _b64url_raw(data)
    except (ValueError, binascii.Error) as exc:
        raise _conn_args_err("data is not base64") from exc
    try:
        obj = _json_value(raw)
    except ValueError as exc:
        raise _conn_args_err("data is not json") from exc
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise _conn_args_err("data is not json")
    fields: dict[str, type] = {
        "token": str,
        "userID": str,
        "operationID": str,
        "compression": str,
        "sdkType": str,
        "platformID": int,
        "sendResponse": bool,
        "background": bool,
    }
    info: dict[str, Any] = {}
    for name, kind in fields.items():
        value = _get_ci(obj, name)
        if value is None:
            continue
        if type(value) is not kind:  # bool is not int here, as in Go
            raise _conn_args_err("data is not json")
        if isinstance(value, str):
            value = _go_string(value)
        elif type(value) is int and not _I64_MIN <= value <= _I64_MAX:  # Go int: 64 bits
            raise _conn_args_err("data is not json")
        info[name] = value
    return info


def _parse_query_info(query: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "token": query.get("token", ""),
        "userID": query.get("sendID", ""),
        "operationID": query.get("operationID", ""),
        "compression": query.get("compression", ""),
        "sdkType": query.get("sdkType", ""),
    }
    platform = _go_atoi(query.get("platformID", ""))
    if platform is None:
        raise _conn_args_err("platformID is not int")
    info["platformID"] = platform
    if msg_resp := query.get("isMsgResp", ""):
        flag = _parse_bool(msg_resp)
        if flag is None:
            raise _conn_args_err("isMsgResp is not bool")
        info["sendResponse"] = flag
    if not info["compression"]:
        info["compression"] = headers.get("compression", "")
    background = query.get("isBackground", "")
    flag = _parse_bool(background)
    if flag is None:
        # A plain Go error in OpenIM, so it answers as a non-coded 500.
        raise ImError(ErrCode.ServerInternalError, f'strconv.ParseBool: parsing "{background}": invalid syntax')
    info["background"] = flag
    return info


def parse_args(path: str, headers: Mapping[str, str]) -> ConnArgs:
    """ParseEssentialArgs + checkInfo; raises ImError 1602 (or 500 for isBackground)."""
    query = _query(path)
    info = _parse_json_info(v) if (v := query.get("v")) else _parse_query_info(query, headers)
    if not info.get("operationID"):
        raise _conn_args_err("operationID is empty")
    if not info.get("token"):
        raise _conn_args_err("token is empty")
    if not info.get("userID"):
        raise _conn_args_err("sendID is empty")
    if info.get("platformID", 0) not in PLATFORM_NAMES:
        raise _conn_args_err("platformID is invalid")
    sdk_type = info.get("sdkType") or SdkType.GO
    if sdk_type not in (SdkType.GO, SdkType.JS):
        raise _conn_args_err("sdkType is invalid")
    return ConnArgs(
        user_id=info["userID"],
        token=info["token"],
        platform_id=info["platformID"],
        operation_id=info["operationID"],
        compression=info.get("compression") == "gzip",
        sdk_type=SdkType(sdk_type),
        send_response=bool(info.get("sendResponse", False)),
        background=bool(info.get("background", False)),
    )


async def authenticate(tokens: TokenVerifier, args: ConnArgs) -> None:
    """ParseToken then validateRespWithRequest: the token must be this user's, on this platform."""
    claims = await tokens.verify(args.token)
    if claims.user_id != args.user_id:
        raise ImError(ErrCode.TokenInvalidError, f"token uid {claims.user_id} != userID {args.user_id}")
    if claims.platform_id != args.platform_id:
        raise ImError(
            ErrCode.TokenInvalidError, f"token platform {claims.platform_id} != platformID {args.platform_id}"
        )


def error_body(error: ImError | None) -> bytes:
    """apiresp.ApiResponse as Go marshals it: errCode, errMsg, errDlt (data omitted)."""
    if error is None:
        body = {"errCode": 0, "errMsg": "", "errDlt": ""}
    else:
        body = {"errCode": int(error.code), "errMsg": error.code.name, "errDlt": error.detail}
    return json.dumps(body, separators=(",", ":")).encode()
