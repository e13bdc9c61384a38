"""Structural guards of the bridge's cost per request (issue 14): no timings, only shapes.

- every function route is answered by exact-path dispatch (one dict lookup), not by
  FastAPI's route scan;
- no request hops to the threadpool: every dependency and endpoint is a coroutine
  function (FastAPI runs a plain function in a worker thread, per request).

And of the layering (issue 11): imserver's services never import its gateway, and
OpenIM's wire constants are written out once, in core/protocol/constants.py.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from enum import IntEnum
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from bridge.app import create_app
from bridge.routes.dispatch import FunctionDispatch
from bridge.settings import BridgeSettings
from core.protocol import constants
from core.registry import all_functions
from tests.support.wait import wait_until


def _app(tmp_path: Path) -> Any:
    return create_app(BridgeSettings(upstream_api="http://x", upstream_ws="ws://x", data_dir=tmp_path))


def _sync_calls(dep: Dependant) -> list[str]:
    found = [] if dep.call is None or inspect.iscoroutinefunction(dep.call) else [repr(dep.call)]
    for sub in dep.dependencies:
        found += _sync_calls(sub)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside the routers FastAPI wraps at include_router."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            found += _api_routes(list(inner.routes))
    return found


def test_no_route_runs_in_the_threadpool(tmp_path: Path) -> None:
    app = _app(tmp_path)
    routes = _api_routes(list(app.routes))
    assert len(routes) > len(all_functions())
    sync = {route.path: _sync_calls(route.dependant) for route in routes}
    assert sync, "no API routes found"
    assert {path: calls for path, calls in sync.items() if calls} == {}


def test_every_function_is_dispatched_by_exact_path(tmp_path: Path) -> None:
    app = _app(tmp_path)
    dispatch = [m for m in app.user_middleware if m.cls is FunctionDispatch]
    assert len(dispatch) == 1
    # Innermost of the bridge's own middleware: a function call passes the body
    # limit, JSON and forwarding checks first, and no router after.
    assert app.user_middleware[-1].cls is FunctionDispatch
    table = FunctionDispatch(_unreachable, all_functions()).by_path
    assert set(table) == {fn.rest_path for fn in all_functions().values()}


async def _unreachable(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"{scope['path']} reached the router")


async def _call(app: Any, path: str, body: bytes, method: str = "POST") -> list[Message]:
    sent: list[Message] = []
    scope: Scope = {"type": "http", "method": method, "path": path, "headers": [], "state": {}}
    scope["state"].update(operation_id="op1", operation_id_given=False)

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_a_function_call_is_answered_without_the_router() -> None:
    dispatch = FunctionDispatch(_unreachable, all_functions())
    for body in (b"{}", b"", b" null ", b"{ }"):
        sent = await _call(dispatch, "/v1/friend/get_friend_list", body)
        assert sent[0]["status"] == 401  # answered here: no session token


async def test_other_paths_and_bad_input_go_on_to_fastapi() -> None:
    reached: list[str] = []

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["path"])
        message = await receive()
        reached.append(message["body"].decode())

    dispatch = FunctionDispatch(router, all_functions())
    await _call(dispatch, "/v1/login", b"{}")
    await _call(dispatch, "/v1/friend/get_friend_list", b"{}", method="GET")
    await _call(dispatch, "/v1/friend/add_friend", b'{"toUserID": 5}')  # FastAPI's 400 names the field
    await _call(dispatch, "/v1/friend/get_friend_list", b"[1")
    await _call(dispatch, "/v1/friend/add_friend", b"[]")  # not an object
    await _call(dispatch, "/v1/friend/add_friend", b"null")  # no body, but one is required
    await _call(dispatch, "/v1/friend/add_friend", b'{"toUserID": "u", "reqMsg": NaN}')  # not JSON
    nan = '{"toUserID": "u", "reqMsg": NaN}'
    assert reached[8:] == ["/v1/friend/add_friend", "[]", "/v1/friend/add_friend", "null", "/v1/friend/add_friend", nan]
    del reached[8:]
    assert reached == [
        "/v1/login",
        "{}",
        "/v1/friend/get_friend_list",
        "{}",
        "/v1/friend/add_friend",
        '{"toUserID": 5}',
        "/v1/friend/get_friend_list",
        "[1",
    ]


async def test_an_idle_live_session_runs_one_task(tmp_path: Path) -> None:
    """Issue 14: at most one task per idle live session, its gateway reader. Checkpoints
    are the pool's flusher's, keep-alive pings the pool's ticker's (no websockets
    keep-alive task), and the push dispatcher runs only while pushes wait."""
    from tests.support.stack import run_stack

    async with run_stack(tmp_path) as st:
        (uid,) = await st.new_users(1)
        user = await st.login(uid)
        core = st.bridge.core(user.session_id)
        assert core.gateway is not None and core.gateway._ws is not None
        assert core.gateway._own_timer is None  # the pool's ticker pings, no timer per connection

        def own() -> list[str]:
            return sorted(t.get_name().split(":")[0] for t in asyncio.all_tasks() if t.get_name().endswith(f":{uid}"))

        await wait_until(lambda: own() == ["gateway"], what="the dispatcher of the login's pushes to end")
        await user.post("/v1/logout")


_ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_imserver_services_do_not_import_the_gateway() -> None:
    """The gateway calls services and registers its Hub as their `Pusher`, never the reverse."""
    found = {
        str(path.relative_to(_ROOT)): sorted(n for n in _imported_modules(path) if n.startswith("imserver.gateway"))
        for path in sorted((_ROOT / "imserver" / "services").glob("*.py"))
    }
    assert len(found) > 10
    assert {path: names for path, names in found.items() if names} == {}


def _sources() -> list[Path]:
    skip = {_ROOT / "core" / "protocol" / "constants.py", _ROOT / "core" / "protocol" / "openim_pb2.py"}
    paths = [p for pkg in ("core", "bridge", "imserver") for p in sorted((_ROOT / pkg).rglob("*.py"))]
    return [p for p in paths if p not in skip]


_ENUMS = {name for name, value in vars(constants).items() if isinstance(value, type) and issubclass(value, IntEnum)}


def _constant_copies(source: str, where: str) -> list[str]:
    """Definitions that repeat core/protocol/constants.py: its enums, ParamMaxLength, role levels."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ClassDef) and node.name in _ENUMS:
            found.append(f"{where}:{node.lineno} class {node.name}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            value = node.value
            numbered = isinstance(value, ast.Constant) and isinstance(value.value, int)
            if numbered and any("PARAM_MAX" in n.upper() or "ROLE_LEVEL" in n.upper() for n in names):
                found.append(f"{where}:{node.lineno} {names}")
            if isinstance(value, ast.Tuple) and {100, 60, 20} <= {getattr(e, "value", None) for e in value.elts}:
                found.append(f"{where}:{node.lineno} role levels {names}")
            # An ID list bounded by the literal 1000 is ParamMaxLength written out again.
            if names and names[0].endswith(("IDs", "IDList")) and isinstance(value, ast.Call):
                for kw in value.keywords:
                    if kw.arg == "max_length" and isinstance(kw.value, ast.Constant) and kw.value.value == 1000:
                        found.append(f"{where}:{node.lineno} {names[0]} max_length=1000")
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
            func = node.left.func
            bound = any(isinstance(c, ast.Constant) and c.value == 1000 for c in node.comparators)
            if isinstance(func, ast.Name) and func.id == "len" and bound:
                found.append(f"{where}:{node.lineno} len(...) against 1000")
    return found


def test_wire_constants_have_one_home() -> None:
    sources = _sources()
    assert len(sources) > 100
    copies = [c for path in sources for c in _constant_copies(path.read_text(), str(path.relative_to(_ROOT)))]
    assert copies == []


def test_the_constant_check_finds_copies() -> None:
    copies = (
        "class RoleLevel(IntEnum):\n    OWNER = 100\n"
        "_PARAM_MAX_LENGTH = 1000\n"
        "OWNER, ADMIN, ORDINARY = 100, 60, 20\n"
        "userIDs: list[str] = Field(max_length=1000)\n"
        "too_many = len(ids) > 1000\n"
        "role_level: Mapped[int] = mapped_column()\n"  # a column, not a copy
    )
    assert len(_constant_copies(copies, "probe.py")) == 5


#: Issue 11's bounds for the bridge: a module that outgrows them holds more than one job.
_MAX_MODULE_LINES, _MAX_CLASS_LINES = 400, 300


def _oversized(source: str, where: str) -> list[str]:
    found = [f"{where}: {source.count(chr(10))} lines"] if source.count("\n") > _MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length > _MAX_CLASS_LINES:
                found.append(f"{where}:{node.lineno} class {node.name}: {length} lines")
    return found


def test_bridge_modules_and_classes_stay_small() -> None:
    paths = sorted((_ROOT / "bridge").rglob("*.py"))
    assert len(paths) > 50
    assert [o for p in paths for o in _oversized(p.read_text(), str(p.relative_to(_ROOT)))] == []


def test_the_size_check_finds_a_big_module_and_class() -> None:
    found = _oversized("class Big:\n" + "    x = 1\n" * _MAX_CLASS_LINES, "big.py")
    assert found == [f"big.py:1 class Big: {_MAX_CLASS_LINES + 1} lines"]
    found = _oversized("x = 1\n" * (_MAX_MODULE_LINES + 1), "long.py")
    assert found == [f"long.py: {_MAX_MODULE_LINES + 1} lines"]
