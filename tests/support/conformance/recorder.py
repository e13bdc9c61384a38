"""Record what core sends upstream, and what it reads back, during a test run.

`install()` wraps two methods at the class level and one function, so every core in this process
is covered whoever built it (bridge app, test stacks, bare cores):
- `core.transport.api.ApiClient.post`: the JSON body of each HTTP call, as it goes
  on the wire (json round trip: a float stays a float), checked against the
  route's request message; the answer's `data` is handed back as `Answer` dicts
  that check each key core reads against the response message;
- `core.transport.gateway.GatewayClient.request`: each gateway request payload,
  checked against the message its reqIdentifier names;
- `core.modules.base.tips_of` (in every module that imported it): a notification's
  tips, handed back as `Answer` dicts of the sdkws tips message of its contentType.
Core itself is untouched. Checks run as traffic arrives; a `Collector` keeps
one `Finding` per distinct problem (with a count and the first test that caused
it), so a long run costs no memory. Cores in other processes (the cluster
tests' bridge nodes) are not covered; the same code runs in-process elsewhere.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import importlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from core.modules.base import tips_of
from core.protocol.openim_pb2 import MsgData
from core.transport.api import ApiClient
from core.transport.gateway import GatewayClient
from tests.support.conformance.checker import WRAPPER_PACKAGE, check_json, check_proto, fields_of, is_map, message_of
from tests.support.conformance.required import OLDER_SERVER_RESPONSES
from tests.support.conformance.routes import CUSTOM, GATEWAY, ROUTES, TIPS
from tests.support.conformance.wasm_descriptors import Schema

__all__ = ["Answer", "Collector", "Finding", "collecting", "current_test", "install", "uninstall"]

_MAX_EXAMPLE = 300


@dataclass(slots=True)
class Finding:
    where: str  # "POST /group/create_group", "gateway 1003", "read /group/...""
    path: str
    problem: str
    first_test: str
    example: str
    count: int = 1

    def line(self) -> str:
        return f"{self.where}: {self.path} {self.problem}  [x{self.count}; first in {self.first_test}]"


@dataclass
class Collector:
    schema: Schema
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    http: Counter[str] = field(default_factory=Counter)
    gateway: Counter[int] = field(default_factory=Counter)
    reads: int = 0

    # -- resolution ---------------------------------------------------------------

    @functools.cached_property
    def _methods(self) -> dict[str, tuple[Descriptor, Descriptor]]:
        out: dict[str, tuple[Descriptor, Descriptor]] = {}
        for route, target in ROUTES.items():
            service, method = target.split("/")
            svc = self.schema.pool.FindServiceByName(f"openim.{service}")
            (m,) = [m for m in svc.methods if m.name[1:] == method[1:] and m.name.lower() == method.lower()]
            out[route] = (m.input_type, m.output_type)
        return out

    def messages(self, route: str) -> tuple[Descriptor, Descriptor] | None:
        return self._methods.get(route)

    # -- recording ----------------------------------------------------------------

    def add(self, where: str, path: str, problem: str, example: Any) -> None:
        key = (where, path, problem)
        found = self.findings.get(key)
        if found is not None:
            found.count += 1
            return
        text = example if isinstance(example, str) else json.dumps(example, default=repr)
        self.findings[key] = Finding(where, path, problem, current_test.get(), text[:_MAX_EXAMPLE])

    def http_request(self, route: str, body: Any) -> None:
        where = f"POST {route}"
        self.http[route] += 1
        wire = json.loads(json.dumps(body, default=repr))  # what httpx puts on the wire
        pair = self.messages(route)
        if pair is None:
            why = CUSTOM.get(route)
            problem = f"is not a protobuf-typed route ({why})" if why else "is not a route of open-im-server v3.8.3"
            self.add(where, "(route)", problem, wire)
            return
        for path, problem in check_json(pair[0], wire):
            self.add(where, path, problem, wire)

    def http_response(self, route: str, data: Any) -> Any:
        pair = self.messages(route)
        if pair is None or not isinstance(data, dict):
            return data
        return _wrap_message(pair[1], data, _Reader(self, f"read {route}"), "")

    def tips(self, content_type: int, tips: dict[str, Any]) -> dict[str, Any]:
        """A notification's tips (`tips_of`), read-checked against its sdkws tips message."""
        name = TIPS.get(content_type)
        if name is None:
            return tips
        desc = self.schema.pool.FindMessageTypeByName(f"openim.sdkws.{name}")
        return _wrap_message(desc, tips, _Reader(self, f"read tips of {content_type}"), "")

    def gateway_request(self, ident: int, payload: bytes) -> None:
        where = f"gateway {ident}"
        self.gateway[ident] += 1
        name = GATEWAY.get(ident)
        if name is None:
            self.add(where, "(reqIdentifier)", "is not a request the v3.8.3 gateway handles", payload.hex())
            return
        for path, problem in check_proto(self.schema.pool.FindMessageTypeByName(name), payload):
            self.add(where, path, problem, payload.hex() or "(empty payload)")

    def report(self) -> list[str]:
        return [f.line() + f"\n      e.g. {f.example}" for f in self.findings.values()]


# -- answers: dicts that check each key core reads ------------------------------


@dataclass(frozen=True, slots=True)
class _Reader:
    sink: Collector
    where: str


class Answer(dict[str, Any]):
    """A decoded answer object; reading a key its message lacks is recorded as a finding.

    Copies (copy, deepcopy, pickle) are plain dicts: the checking stays with the answer.
    """

    __slots__ = ("_fields", "_map_value", "_message", "_path", "_reader")

    def __init__(
        self,
        items: dict[str, Any],
        message: str,
        fields: dict[str, FieldDescriptor] | None,
        reader: _Reader,
        path: str,
    ) -> None:
        super().__init__(items)
        self._message, self._fields, self._reader, self._path = message, fields, reader, path

    def _seen(self, key: object) -> None:
        if self._fields is None:  # a map: any key
            return
        reader = self._reader
        reader.sink.reads += 1
        if key in self._fields and key not in OLDER_SERVER_RESPONSES.get(self._message, ()):
            return
        path = f"{self._path}.{key}" if self._path else str(key)
        if key not in self._fields:
            near = [f for f in self._fields if f.lower() == str(key).lower()]
            hint = f" (the field is {near[0]!r}: Go writes names exactly)" if near else ""
            reader.sink.add(reader.where, path, f"is read by core but is not a field of {self._message}{hint}", "")
        elif key in OLDER_SERVER_RESPONSES.get(self._message, ()):
            reader.sink.add(
                reader.where, path, f"is read by core but open-im-server v3.8.3 never sends it ({self._message})", ""
            )

    def get(self, key: str, default: Any = None) -> Any:
        self._seen(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._seen(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._seen(key)
        return super().__contains__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._seen(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._seen(key)
        return super().setdefault(key, default)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return (dict, (dict(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


def _wrap_message(desc: Descriptor, data: dict[str, Any], reader: _Reader, path: str) -> Answer:
    fields = fields_of(desc)
    items = {}
    for key, value in data.items():
        f = fields.get(key)
        items[key] = value if f is None else _wrap_field(f, value, reader, f"{path}.{key}" if path else key)
    return Answer(items, desc.full_name, fields, reader, path)


def _wrap_one(f: FieldDescriptor, value: Any, reader: _Reader, path: str) -> Any:
    if f.type != FieldDescriptor.TYPE_MESSAGE or not isinstance(value, dict):
        return value
    desc = message_of(f)
    return value if desc.full_name.startswith(WRAPPER_PACKAGE + ".") else _wrap_message(desc, value, reader, path)


def _wrap_field(f: FieldDescriptor, value: Any, reader: _Reader, path: str) -> Any:
    if is_map(f):
        if not isinstance(value, dict):
            return value
        entry = message_of(f)
        value_field = fields_of(entry)["value"]
        items = {k: _wrap_one(value_field, v, reader, f"{path}[{k}]") for k, v in value.items()}
        return Answer(items, entry.full_name, None, reader, path)
    if f.is_repeated:
        if not isinstance(value, list):
            return value
        return [_wrap_one(f, v, reader, f"{path}[]") for v in value]
    return _wrap_one(f, value, reader, path)


# -- installation -------------------------------------------------------------------

current_test: contextvars.ContextVar[str] = contextvars.ContextVar("conformance_test", default="(outside a test)")
_active: contextvars.ContextVar[Collector | None] = contextvars.ContextVar("conformance_collector", default=None)
_originals: dict[str, Callable[..., Any]] = {}
_tips_modules: list[ModuleType] = []


@contextlib.contextmanager
def collecting(collector: Collector) -> Iterator[Collector]:
    """Record into `collector` within this context (and the tasks it starts)."""
    token = _active.set(collector)
    try:
        yield collector
    finally:
        _active.reset(token)


def install(collector: Collector) -> None:
    """Record into `collector` wherever no `collecting()` context says otherwise."""
    if _originals:
        raise RuntimeError("conformance recorder already installed")
    post, request = ApiClient.post, GatewayClient.request
    _originals.update(post=post, request=request)
    default = collector

    async def recorded_post(self: ApiClient, route: str, body: dict[str, Any], operation_id: str) -> Any:
        sink = _active.get() or default
        sink.http_request(route, body)
        return sink.http_response(route, await post(self, route, body, operation_id))

    async def recorded_request(
        self: GatewayClient, ident: int, data: bytes, operation_id: str, timeout: float | None = None
    ) -> bytes:
        (_active.get() or default).gateway_request(int(ident), data)
        return await request(self, ident, data, operation_id, timeout)

    def recorded_tips(msg: MsgData) -> dict[str, Any]:
        return (_active.get() or default).tips(msg.contentType, tips_of(msg))

    ApiClient.post = functools.wraps(post)(recorded_post)  # type: ignore[method-assign]
    GatewayClient.request = functools.wraps(request)(recorded_request)  # type: ignore[method-assign]
    # Modules import tips_of by name: replace it in each (core.core imports them all).
    _tips_modules.extend(_importers_of_tips())
    for module in _tips_modules:
        module.tips_of = functools.wraps(tips_of)(recorded_tips)  # type: ignore[attr-defined]


def _importers_of_tips() -> list[ModuleType]:
    importlib.import_module("core.core")
    loaded = list(sys.modules.items())
    return [m for name, m in loaded if name.startswith("core.") and getattr(m, "tips_of", None) is tips_of]


def uninstall() -> None:
    if _originals:
        ApiClient.post = _originals.pop("post")  # type: ignore[method-assign]
        GatewayClient.request = _originals.pop("request")  # type: ignore[method-assign]
    while _tips_modules:
        _tips_modules.pop().tips_of = tips_of  # type: ignore[attr-defined]
