"""The one SDK function table: declared once in core, served by three faces.

Each entry names an OpenIM SDK function (`AddFriend`), its module (`friend`),
a pydantic model for its parameters and a type for its result, and the method
that runs it on a `Core` (`core.friend.add_friend(params, operation_id)`).
The bridge turns every entry into `POST /v1/{module}/{method}` and dispatches
oimws `reqFuncName`s through the same table (shared/DESIGN.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["SdkFunction", "all_functions", "sdk_function"]

_TABLE: dict[str, SdkFunction] = {}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class SdkFunction:
    name: str
    module: str
    method: str
    params: type[BaseModel]
    result: Any
    summary: str
    # True when the function only reads local state: the bridge may answer it
    # without an idempotency record.
    read_only: bool
    # The class that defines the method (a core maps it to its module object).
    owner: str
    # The REST body is multipart/form-data (a file upload), served by its own route.
    multipart: bool = False

    @property
    def rest_path(self) -> str:
        return f"/v1/{self.module}/{self.method}"

    @property
    def operation_id(self) -> str:
        return self.name[0].lower() + self.name[1:]


def sdk_function(
    module: str,
    name: str,
    params: type[BaseModel],
    result: Any,
    *,
    read_only: bool = False,
    multipart: bool = False,
) -> Callable[[F], F]:
    """Register a module method as the SDK function `name`."""

    def register(fn: F) -> F:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        if name in _TABLE:
            raise RuntimeError(f"SDK function {name} declared twice")
        owner = fn.__qualname__.split(".")[0]
        _TABLE[name] = SdkFunction(name, module, fn.__name__, params, result, doc, read_only, owner, multipart)
        return fn

    return register


def all_functions() -> dict[str, SdkFunction]:
    """Every declared SDK function, by SDK name (imports the modules that declare them)."""
    importlib.import_module("core.modules")
    return dict(_TABLE)
