"""Request bodies decoded the way OpenIM's Go server decodes them (openim-v3.md 0.2).

Go's `encoding/json` into a protobuf struct: unknown keys are ignored, keys
match case-insensitively (an exact match wins), `null` leaves a field at its
zero value, a wrongly typed value is an error naming the field, and a JSON
`null` body is an empty request. Afterwards the message's `Check()` runs; both
kinds of failure are 1001 ArgsError (tools a2r/api2rpc.go, checker).

Wrapper fields (openim.protobuf.StringValue etc.) are `X | None`: null or
absent = "not set".
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.services.common import Page

__all__ = [
    "GoRequest",
    "Int32",
    "Int64",
    "Pagination",
    "UInt64",
    "decode",
    "decode_fields",
    "require_fields",
    "require_page",
    "require_unique",
]

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]

_R = TypeVar("_R", bound="GoRequest")


class GoRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _go_decoding(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        # What SDKs send: exact names, no nulls; nothing to rename or drop.
        if all(key in fields and value is not None for key, value in data.items()):
            return data
        names = {name.lower(): name for name in fields}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            name = key if key in fields else names.get(key.lower())
            if name is None or (name != key and name in data):
                continue
            out[name] = value
        return out

    def check(self) -> None:
        """The protobuf message's Check(): raise ImError(ArgsError) when invalid."""


class Pagination(GoRequest):
    """sdkws.RequestPagination"""

    pageNumber: Int32 = 0
    showNumber: Int32 = 0


def require_page(pagination: Pagination | None) -> Page:
    """The common Check() of paged requests: pagination present, pageNumber >= 1."""
    if pagination is None:
        raise ImError(ErrCode.ArgsError, "pagination is empty")
    if pagination.pageNumber < 1:
        raise ImError(ErrCode.ArgsError, "pageNumber is invalid")
    return Page(pagination.pageNumber, pagination.showNumber)


def require_fields(**fields: str) -> None:
    """Check() of required string fields: 1001 "<name> is empty"."""
    for name, value in fields.items():
        if not value:
            raise ImError(ErrCode.ArgsError, f"{name} is empty")


def require_unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise ImError(ErrCode.ArgsError, f"{what} repeated")


def decode(model: type[_R], body: bytes) -> _R:
    try:
        request = model.model_validate_json(body or b"")
    except ValidationError as exc:
        raise ImError(ErrCode.ArgsError, _describe(exc)) from exc
    request.check()
    return request


def decode_fields(model: type[_R], fields: dict[str, Any]) -> _R:
    """A request from already typed fields (a decoded protobuf body), then Check()."""
    try:
        request = model.model_validate(fields)
    except ValidationError as exc:
        raise ImError(ErrCode.ArgsError, _describe(exc)) from exc
    request.check()
    return request


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON body: {first['msg']}"
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return f"field {field}: {first['msg']}"
