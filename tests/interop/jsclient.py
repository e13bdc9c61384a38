"""Drive the official ``@openim/client-sdk`` (0.0.14) from pytest through headless Chromium.

A :class:`JsClient` is one official-client user: one browser context and page that
loads ``page/client-sdk.html`` (served from a loopback HTTP server this module
starts itself) with the SDK bundle built by ``build.mjs``. The page exposes
``window.im`` (see ``page/client-sdk-entry.js``): ``login``, ``call``, and the lists
``events`` (every SDK callback), ``errors`` (uncaught page errors) and ``traffic``
(every HTTP request and WebSocket frame, protobuf payloads decoded), which make
failures explain themselves.

Usage::

    c = await JsClient.start(browser, name="alice")
    await c.login("alice", token, 5, api_url, ws_url)   # waits for OnSyncServerFinish
    mark = await c.mark()
    await c.call("addFriend", {"toUserID": "bob", "reqMsg": "hi"})
    ev = await c.wait_event("OnFriendApplicationAdded", {"data": {"toUserID": "bob"}}, since=mark)
    await c.close()

Waiting is always a condition with a deadline (``page.wait_for_function``), never a
fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

INTEROP_DIR = Path(__file__).resolve().parent
PAGE_DIR = INTEROP_DIR / "page"
BUILD_DIR = INTEROP_DIR / "build"
NODE_MODULES = INTEROP_DIR / "node_modules"
CLIENT_SDK_PAGE = "/page/client-sdk.html"
CLIENT_SDK_BUNDLE = BUILD_DIR / "client-sdk.js"
# The oimws client (`open-im-sdk` 3.5.2): same `window.im` shape, so JsClient drives it too.
OPEN_IM_SDK_PAGE = "/page/open-im-sdk.html"
OPEN_IM_SDK_BUNDLE = BUILD_DIR / "open-im-sdk.js"

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Platform IDs (openim-v3.md 4.4); the JS SDK is normally used as Web (5).
PLATFORM_WEB = 5

mimetypes.add_type("text/javascript", ".js")

# HTTP routes @openim/client-sdk 0.0.14 calls during login sync (README, "Login sync"); a
# 404 on any of them ends the SDK's login in OnSyncServerFailed.
LOGIN_SYNC_ROUTES = (
    "/user/get_users_info",
    "/friend/get_incremental_friends",
    "/friend/get_full_friend_user_ids",
    "/group/get_incremental_join_groups",
    "/group/get_full_join_group_ids",
    "/conversation/get_incremental_conversations",
    "/conversation/get_not_notify_conversation_ids",
    "/jssdk/get_active_conversations",
)

# HTTP routes behind its friend API and friend notifications (README, "Friend API"), plus
# /jssdk/get_conversations: the accept notification's isSendMsg copy opens the si_ chat,
# which the SDK fetches from there (and a failure is an unhandled rejection in the page).
FRIEND_ROUTES = (
    "/jssdk/get_conversations",
    "/friend/add_friend",
    "/friend/add_friend_response",
    "/friend/get_designated_friend_apply",
    "/friend/get_friend_apply_list",
    "/friend/get_self_friend_apply_list",
    "/friend/get_friend_list",
    "/friend/get_designated_friends",
    "/friend/update_friends",
    "/friend/add_black",
    "/friend/remove_black",
    "/friend/get_black_list",
    "/friend/get_specified_blacks",
    "/friend/delete_friend",
    "/friend/is_friend",
)

Predicate = str | Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None


class JsCallError(Exception):
    """An SDK call resolved with errCode != 0 (the SDK rejected it)."""

    def __init__(self, fn: str, err_code: int, err_msg: str, operation_id: str, diagnostics: str = "") -> None:
        self.fn = fn
        self.err_code = err_code
        self.err_msg = err_msg
        self.operation_id = operation_id
        msg = f"{fn} failed: errCode={err_code} errMsg={err_msg!r} operationID={operation_id}"
        if diagnostics:
            msg += "\n" + diagnostics
        super().__init__(msg)


class JsTimeoutError(AssertionError):
    """A wait or call did not complete before its deadline (message carries page diagnostics)."""


# --------------------------------------------------------------------------- page server


class PageServer:
    """Minimal loopback static server for the page and the built bundle (GET/HEAD only).

    Serves only files under ``page/`` and ``build/`` of tests/interop; anything else is 404.
    """

    _ROOTS: ClassVar[dict[str, Path]] = {"page": PAGE_DIR, "build": BUILD_DIR}

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> PageServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _resolve(self, path: str) -> Path | None:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if len(parts) < 2 or parts[0] not in self._ROOTS or any(p in (".", "..") for p in parts):
            return None
        root = self._ROOTS[parts[0]]
        file = root.joinpath(*parts[1:]).resolve()
        if root.resolve() not in file.parents or not file.is_file():
            return None
        return file

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            while True:  # drain headers
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
            fields = request_line.decode("latin-1").split()
            method, path = (fields[0], fields[1]) if len(fields) >= 2 else ("", "")
            file = self._resolve(path) if method in ("GET", "HEAD") else None
            if file is None:
                status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
            else:
                status, body = "200 OK", file.read_bytes()
                ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if ctype.startswith("text/") or ctype.endswith("javascript"):
                    ctype += "; charset=utf-8"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


# --------------------------------------------------------------------------- JS snippets

_WAIT_EVENT_JS = """
([names, since, pred, match]) => {
  const subset = (want, got) => {
    if (want === null || typeof want !== 'object') return want === got;
    if (got === null || typeof got !== 'object') return false;
    if (Array.isArray(want)) {
      return Array.isArray(got) && want.length === got.length && want.every((w, i) => subset(w, got[i]));
    }
    return Object.keys(want).every((k) => subset(want[k], got[k]));
  };
  const fn = pred ? (0, eval)('(' + pred + ')') : null;
  const evs = window.im.events;
  for (let i = since; i < evs.length; i += 1) {
    const e = evs[i];
    if (!names.includes(e.event)) continue;
    if (match && !subset(match, e)) continue;
    if (fn && !fn(e)) continue;
    return e;
  }
  return null;
}
"""


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"... (+{len(text) - limit} chars)"


def _describe_traffic(t: Mapping[str, Any]) -> str:
    kind = t.get("kind")
    if kind == "http":
        resp = t.get("response")
        if resp is None:
            resp = t.get("error") or t.get("responseText")
        line = f"HTTP {t.get('path')} status={t.get('status')} body={_short(t.get('body'), 300)} -> "
        line += _short(resp, 500)
        if "responseDecoded" in t:
            line += f" decoded={_short(t['responseDecoded'], 400)}"
        return line
    if kind in ("ws-send", "ws-recv"):
        env = t.get("envelope")
        if env is None:
            return f"{kind} {t.get('frame')} {_short(t.get('text'), 300)}"
        keys = ("reqIdentifier", "msgIncr", "operationID", "errCode", "errMsg")
        head = " ".join(f"{k}={env[k]}" for k in keys if k in env)
        line = f"{kind} {t.get('frame')} {head}"
        if "decoded" in t:
            line += f" data={_short(t['decoded'], 500)}"
        elif "decodeError" in t:
            line += f" data-decode-error={t['decodeError']}"
        elif env.get("data") is not None and "reqIdentifier" in env:
            line += f" data(b64)={_short(env.get('data'), 120)}"
        elif "reqIdentifier" not in env:
            line += f" {_short(env, 300)}"
        return line
    if kind in ("ws-open-request", "ws-opened", "ws-closed", "ws-error"):
        url = re.sub(r"(token=[^&]{12})[^&]*", r"\1...", str(t.get("url", "")))
        extra = {k: t[k] for k in ("code", "reason", "wasClean") if k in t}
        return f"{kind} {url}" + (f" {extra}" if extra else "")
    return _short({k: v for k, v in t.items() if k not in ("index", "at")}, 300)


# --------------------------------------------------------------------------- client


class JsClient:
    """One official ``@openim/client-sdk`` user in its own browser context."""

    def __init__(self, name: str, context: BrowserContext, page: Page, server: PageServer, owns_server: bool):
        self.name = name
        self.context = context
        self.page = page
        self._server = server
        self._owns_server = owns_server
        self.console: deque[str] = deque(maxlen=300)
        self.page_errors: list[str] = []
        self.user_id: str | None = None

    # -- lifecycle

    @classmethod
    async def start(
        cls,
        browser: Browser,
        *,
        name: str = "js",
        page_server: PageServer | None = None,
        timeout: float = 15.0,
        page_path: str = CLIENT_SDK_PAGE,
    ) -> JsClient:
        """Open a fresh context + page on the SDK page host and wait until ``window.im`` is ready.

        ``page_path``: ``CLIENT_SDK_PAGE`` (@openim/client-sdk) or ``OPEN_IM_SDK_PAGE`` (open-im-sdk).
        """
        owns = page_server is None
        server = page_server or await PageServer().start()
        context = await browser.new_context()
        try:
            page = await context.new_page()
            client = cls(name, context, page, server, owns)
            page.on("console", client._on_console)
            page.on("pageerror", client._on_page_error)
            await page.goto(server.origin + page_path, timeout=timeout * 1000)
            await page.wait_for_function("() => window.im && window.im.ready === true", timeout=timeout * 1000)
        except BaseException:
            await context.close()
            if owns:
                await server.close()
            raise
        return client

    async def close(self) -> None:
        """Log out (best effort) and close the context; also the page server if this client started it."""
        try:
            if self.user_id is not None and not self.page.is_closed():
                await asyncio.wait_for(self.page.evaluate("() => window.im.call('logout', [])"), 5)
        except (Error, TimeoutError):
            pass
        finally:
            await self.context.close()
            if self._owns_server:
                await self._server.close()

    async def __aenter__(self) -> JsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _on_console(self, msg: ConsoleMessage) -> None:
        self.console.append(f"[{msg.type}] {msg.text[:1000]}")

    def _on_page_error(self, exc: Error) -> None:
        self.page_errors.append(str(exc))

    # -- SDK

    async def login(
        self,
        user_id: str,
        token: str,
        platform_id: int,
        api_url: str,
        ws_url: str,
        *,
        wait_sync: bool = True,
        timeout: float = 15.0,
        log_level: int = 3,
        operation_id: str | None = None,
    ) -> dict[str, Any]:
        """``getSDK().login({userID, token, platformID, apiAddr, wsAddr, logLevel})``.

        The SDK's login resolves as soon as the WebSocket opens; with ``wait_sync`` (default)
        this then waits for ``OnConnectSuccess`` and ``OnSyncServerFinish`` and raises with
        diagnostics on ``OnConnectFailed`` / ``OnSyncServerFailed`` / token events.
        ``log_level``: loglevel numbers (0 trace .. 5 silent); 3 = warn keeps the console quiet.
        Returns the ``OnSyncServerFinish`` event (or the login result without ``wait_sync``).
        """
        mark = await self.mark()
        cfg: dict[str, Any] = {
            "userID": user_id,
            "token": token,
            "platformID": platform_id,
            "apiAddr": api_url.rstrip("/"),
            "wsAddr": ws_url,
            "logLevel": log_level,
        }
        if operation_id:
            cfg["operationID"] = operation_id
        res = await self._evaluate_with_deadline("login", "(cfg) => window.im.login(cfg)", cfg, timeout)
        if not res["ok"]:
            raise JsCallError("login", res["errCode"], res["errMsg"], res["operationID"], await self.diagnostics())
        self.user_id = user_id
        if not wait_sync:
            return dict(res)
        bad = (
            "OnConnectFailed",
            "OnSyncServerFailed",
            "OnUserTokenExpired",
            "OnUserTokenInvalid",
            "OnKickedOffline",
        )
        ev = await self.wait_any(["OnSyncServerFinish", *bad], since=mark, timeout=timeout)
        if ev["event"] != "OnSyncServerFinish":
            raise AssertionError(
                f"[{self.name}] login of {user_id} ended with {_short(ev)}\n" + await self.diagnostics()
            )
        return ev

    async def call(self, name: str, *args: Any, operation_id: str | None = None, timeout: float = 15.0) -> Any:
        """Call an SDK function (``sdk[name](*args)``) and return its ``data``.

        Raises :class:`JsCallError` when the SDK answers errCode != 0. ``operation_id`` is
        passed through as the SDK call's operationID (the SDK's own header/frames carry it).
        """
        res = await self._evaluate_with_deadline(
            name,
            "([n, a, op]) => window.im.call(n, a, op || undefined)",
            [name, list(args), operation_id],
            timeout,
        )
        if not res["ok"]:
            raise JsCallError(name, res["errCode"], res["errMsg"], res["operationID"], await self.diagnostics())
        return res["data"]

    async def _evaluate_with_deadline(self, what: str, js: str, arg: Any, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(self.page.evaluate(js, arg), timeout)
        except TimeoutError:
            raise JsTimeoutError(
                f"[{self.name}] SDK call {what} did not finish within {timeout}s\n" + await self.diagnostics()
            ) from None

    # -- events

    async def mark(self) -> int:
        """Current number of recorded events; pass as ``since=`` to only see later events."""
        return int(await self.page.evaluate("() => window.im.events.length"))

    async def events(self, name: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        evs: list[dict[str, Any]] = await self.page.evaluate("(s) => window.im.events.slice(s)", since)
        return [e for e in evs if name is None or e["event"] == name]

    async def wait_event(
        self,
        name: str | Sequence[str],
        predicate: Predicate = None,
        timeout: float = 10.0,
        *,
        since: int = 0,
    ) -> dict[str, Any]:
        """Wait for the first event ``name`` at index >= ``since`` that satisfies ``predicate``.

        ``name`` may be a list of names (any of them). ``predicate`` may be: ``None``; a
        mapping matched as a deep subset of the event (``{"data": {"userID": "bob"}}``; lists
        must match whole); a JS function source evaluated in the page
        (``"e => e.data.remark === 'x'"``); or a Python callable on the event dict.
        Returns the event ``{index, event, data, errCode, errMsg, operationID, at}``.
        """
        names = [name] if isinstance(name, str) else list(name)
        if callable(predicate):
            return await self._wait_python_predicate(names, predicate, timeout, since)
        js_pred = predicate if isinstance(predicate, str) else None
        match = dict(predicate) if isinstance(predicate, Mapping) else None
        try:
            handle = await self.page.wait_for_function(
                _WAIT_EVENT_JS, arg=[names, since, js_pred, match], timeout=timeout * 1000, polling=50
            )
        except PlaywrightTimeoutError:
            raise JsTimeoutError(
                f"[{self.name}] no {'|'.join(names)} event (since #{since}, predicate={predicate!r}) "
                f"within {timeout}s\n" + await self.diagnostics()
            ) from None
        result: dict[str, Any] = await handle.json_value()
        await handle.dispose()
        return result

    async def wait_any(self, names: Sequence[str], *, since: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the first event at index >= ``since`` whose name is in ``names``."""
        return await self.wait_event(names, since=since, timeout=timeout)

    async def _wait_python_predicate(
        self, names: list[str], predicate: Callable[[dict[str, Any]], bool], timeout: float, since: int
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = since
        while True:
            for ev in await self.events(since=cursor):
                cursor = ev["index"] + 1
                if ev["event"] in names and predicate(ev):
                    return ev
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise JsTimeoutError(
                    f"[{self.name}] no {'|'.join(names)} event (since #{since}) matching {predicate!r} "
                    f"within {timeout}s\n" + await self.diagnostics()
                )
            # wait for the next event to arrive (a condition with a deadline)
            with contextlib.suppress(PlaywrightTimeoutError):
                await self.page.wait_for_function(
                    "(n) => window.im.events.length > n", arg=cursor, timeout=remaining * 1000, polling=50
                )

    # -- diagnostics

    async def errors(self) -> list[dict[str, Any]]:
        """Uncaught errors / unhandled rejections seen in the page, plus Playwright page errors."""
        errs: list[dict[str, Any]] = await self.page.evaluate("() => window.im.errors.slice()")
        return errs + [{"kind": "pageerror", "message": m} for m in self.page_errors]

    async def assert_no_errors(self) -> None:
        """Fail (with diagnostics) if the page saw any uncaught error or unhandled rejection."""
        errs = await self.errors()
        if errs:
            raise AssertionError(f"[{self.name}] page errors: {_short(errs, 1000)}\n" + await self.diagnostics())

    async def traffic(self, since: int = 0) -> list[dict[str, Any]]:
        """Recorded HTTP requests and WS frames (see page/client-sdk-entry.js)."""
        t: list[dict[str, Any]] = await self.page.evaluate(
            "(s) => window.im.traffic.filter((x) => x.index >= s)", since
        )
        return t

    async def diagnostics(self, last: int = 40) -> str:
        """A readable dump of the page's recent events, errors, traffic and console lines."""
        try:
            evs = await self.events()
            errs = await self.errors()
            traffic = await self.traffic()
        except Error as exc:  # page gone
            return f"  (page diagnostics unavailable: {exc})"
        lines = [f"--- [{self.name}] diagnostics (user {self.user_id}) ---", f"events ({len(evs)}):"]
        lines += [
            f"  #{e['index']} {e['event']} errCode={e['errCode']} errMsg={e['errMsg']!r} "
            f"op={e['operationID']} data={_short(e['data'], 300)}"
            for e in evs[-last:]
        ]
        lines.append(f"page errors ({len(errs)}):")
        lines += [f"  {e.get('kind')}: {_short(e.get('message'), 500)}" for e in errs[-last:]]
        lines.append(f"traffic (last {min(last, len(traffic))} of {len(traffic)}):")
        lines += [f"  {_describe_traffic(t)}" for t in traffic[-last:]]
        console = [c for c in self.console if c.startswith(("[error]", "[warning]"))]
        lines.append(f"console errors/warnings (last {min(last, len(console))}):")
        lines += [f"  {_short(c, 400)}" for c in console[-last:]]
        return "\n".join(lines)


def bundle_problem() -> str | None:
    """Why the page host cannot run (None when node_modules and a fresh bundle are present)."""
    sdk_pkg = NODE_MODULES / "@openim" / "client-sdk" / "package.json"
    if not sdk_pkg.is_file():
        return f"{sdk_pkg.relative_to(INTEROP_DIR.parent.parent)} is missing (npm packages not installed)"
    version = json.loads(sdk_pkg.read_text())["version"]
    if version != "0.0.14":
        return f"@openim/client-sdk {version} installed, 0.0.14 expected"
    if not CLIENT_SDK_BUNDLE.is_file():
        return f"{CLIENT_SDK_BUNDLE.relative_to(INTEROP_DIR.parent.parent)} is not built"
    stamp_file = BUILD_DIR / "stamp.json"
    if not stamp_file.is_file():
        return "build/stamp.json is missing"
    stamp = json.loads(stamp_file.read_text()).get("versions", {})
    for name, built in stamp.items():
        pkg = NODE_MODULES / name / "package.json"
        if pkg.is_file() and json.loads(pkg.read_text())["version"] != built:
            return f"bundle was built from {name} {built}, installed version differs"
    built_at = CLIENT_SDK_BUNDLE.stat().st_mtime
    for src in (PAGE_DIR / "client-sdk-entry.js", INTEROP_DIR / "build.mjs"):
        if src.stat().st_mtime > built_at:
            return f"bundle is older than {src.name}"
    return None


def open_im_sdk_bundle_problem() -> str | None:
    """Why the open-im-sdk page host cannot run (None when its package and a fresh bundle are present)."""
    pkg = NODE_MODULES / "open-im-sdk" / "package.json"
    if not pkg.is_file():
        return f"{pkg.relative_to(INTEROP_DIR.parent.parent)} is missing (npm packages not installed)"
    version = json.loads(pkg.read_text())["version"]
    if version != "3.5.2":
        return f"open-im-sdk {version} installed, 3.5.2 expected"
    if not OPEN_IM_SDK_BUNDLE.is_file():
        return f"{OPEN_IM_SDK_BUNDLE.relative_to(INTEROP_DIR.parent.parent)} is not built"
    stamp_file = BUILD_DIR / "stamp.json"
    built = json.loads(stamp_file.read_text()).get("versions", {}) if stamp_file.is_file() else {}
    if built.get("open-im-sdk") != version:
        return "bundle was not built from the installed open-im-sdk"
    built_at = OPEN_IM_SDK_BUNDLE.stat().st_mtime
    for src in (PAGE_DIR / "open-im-sdk-entry.js", INTEROP_DIR / "build.mjs"):
        if src.stat().st_mtime > built_at:
            return f"bundle is older than {src.name}"
    return None


def chromium_problem() -> str | None:
    return None if Path(CHROMIUM_PATH).is_file() else f"{CHROMIUM_PATH} is missing"
