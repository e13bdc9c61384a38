"""A core against a real imserver on loopback: gzip frames, requests refused before they
would break the 51200-byte limit, and pulls of long messages that end however small
the core's read limit (issue 10, "Frames that fit OpenIM's limits")."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.core import Core, CoreConfig
from core.errors import SdkError
from core.events import Event
from core.modules.message import HistoryParams, SendParams
from core.modules.message_create import TextParams
from core.msgstruct import MsgStruct
from core.protocol.errcodes import ErrCode
from core.transport.gateway import GatewayOptions
from imserver.server import RunningImServer, run_imserver
from imserver.settings import ImServerSettings
from tests.support.clock import MovableClock, wait_until
from tests.support.imadmin import ADMIN_SECRET, admin_token, call, register_users, user_token

WEB = 5
# Redials after a dropped connection come at once in these tests (the default is 1 s).
FAST = (0.05,)


def cjk(n: int, seed: int) -> str:
    """n random CJK ideographs: about the worst case for gzip among real texts."""
    rnd = random.Random(seed)
    return "".join(chr(rnd.randint(0x4E00, 0x9FA5)) for _ in range(n))


def repetitive(n: int, seed: int) -> str:
    """n CJK characters that gzip to almost nothing on the wire (but inflate to 3n bytes)."""
    return (chr(0x4E00 + seed) * n)[:n]


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def texts(self) -> list[str]:
        return [e.data["textElem"]["content"] for e in self.events if e.callback == "OnRecvNewMessage"]


@dataclass
class Env:
    srv: RunningImServer
    http: httpx.AsyncClient
    sinks: dict[Core, Recorder] = field(default_factory=dict)

    async def users(self, n: int) -> list[str]:
        ids = [f"f{uuid.uuid4().hex[:10]}" for _ in range(n)]
        await register_users(self.http, self.srv.api_url, *ids)
        return ids

    async def login(self, user_id: str, *, core: Core | None = None, **options: Any) -> Core:
        if core is None:
            config = CoreConfig(self.srv.api_url, self.srv.ws_url, WEB, gateway=GatewayOptions(backoff=FAST, **options))
            sink = Recorder()
            core = Core(config, http=self.http, sink=sink)
            self.sinks[core] = sink
        await core.login(user_id, await user_token(self.http, self.srv.api_url, user_id, WEB), "login")
        return core


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = ImServerSettings(data_dir=tmp_path / "imserver", clock=MovableClock(), secret=ADMIN_SECRET)
    async with run_imserver(settings, api_port=0, ws_port=0) as srv, httpx.AsyncClient(timeout=30.0) as http:
        yield Env(srv, http)


async def send_text(core: Core, to: str, text: str) -> MsgStruct:
    msg = await core.message.create_text_message(TextParams(text=text), "create")
    return await core.message.send_message(SendParams(message=msg, recvID=to), "send")


@contextlib.asynccontextmanager
async def logged_in(env: Env, user_id: str, **options: Any) -> AsyncIterator[Core]:
    core = await env.login(user_id, **options)
    try:
        yield core
    finally:
        await core.logout("logout")


async def test_the_core_speaks_gzip_and_a_cjk_text_of_9000_characters_arrives(env: Env) -> None:
    a_id, b_id = await env.users(2)
    async with logged_in(env, a_id) as a, logged_in(env, b_id) as b:
        (conn,) = env.srv.hub.connections(a_id)
        assert conn.codec.compress, "the core dials with compression=gzip, as openim-sdk-core does"
        text = cjk(9000, seed=1)
        sent = await send_text(a, b_id, text)
        assert sent.status == 2 and sent.serverMsgID
        await wait_until(lambda: env.sinks[b].texts() == [text], what="the long text at b")
        assert a.gateway is not None and a.gateway.read_limit_drops == 0


async def test_a_message_over_the_frame_limit_is_refused_before_sending(env: Env) -> None:
    a_id, b_id = await env.users(2)
    async with logged_in(env, a_id) as a, logged_in(env, b_id) as b:
        # MsgStruct elems are not length-checked; 40,000 random ideographs gzip to ~100 KB.
        msg = await a.message.create_text_message(TextParams(text="x"), "create")
        msg.textElem = {"content": cjk(40_000, seed=2)}
        with pytest.raises(SdkError) as info:
            await a.message.send_message(SendParams(message=msg, recvID=b_id), "send")
        assert info.value.code == ErrCode.MsgTooLargeError
        assert "51200" in info.value.detail
        # Nothing went out: the connection stays, and the next message goes through.
        assert a.gateway is not None and a.gateway.connected.is_set()
        (conn,) = env.srv.hub.connections(a_id)
        assert env.srv.hub.stats.bad_frames == 0
        await send_text(a, b_id, "after")
        await wait_until(lambda: env.sinks[b].texts() == ["after"], what="the next message")
        assert env.srv.hub.connections(a_id) == [conn], "the same connection"


async def test_the_limit_is_a_setting(env: Env) -> None:
    a_id, b_id = await env.users(2)
    async with logged_in(env, a_id, max_send_frame=10_000) as a:
        with pytest.raises(SdkError) as info:
            await send_text(a, b_id, cjk(9000, seed=3))
        assert info.value.code == ErrCode.MsgTooLargeError and "10000 bytes" in info.value.detail


@pytest.mark.parametrize(
    ("limit", "text"),
    [
        pytest.param({"max_frame": 100_000}, cjk, id="frame over max_frame"),
        pytest.param({"max_inflated_frame": 100_000}, repetitive, id="frame inflating past max_inflated_frame"),
    ],
)
async def test_a_pull_of_long_messages_shrinks_to_fit_the_read_limit_and_ends(
    env: Env, limit: dict[str, Any], text: Callable[[int, int], str]
) -> None:
    a_id, b_id = await env.users(2)
    b = await env.login(b_id, **limit)
    await b.park()  # b is away while a writes
    n = 24
    texts = [text(9000, i) for i in range(n)]
    async with logged_in(env, a_id) as a:
        for t in texts:
            await send_text(a, b_id, t)
        # One message no batch can carry (an admin may send one over the HTTP API).
        huge = {"content": {"content": text(60_000, 99)}, "contentType": 101, "sessionType": 1}
        admin = await admin_token(env.http, env.srv.api_url)
        await call(env.http, env.srv.api_url, "/msg/send_msg", {"sendID": a_id, "recvID": b_id, **huge}, admin)
        await send_text(a, b_id, "the end")

        # b comes back: the sync pulls seqs 1..26 in batches that shrink to fit.
        await env.login(b_id, core=b)
        try:
            assert env.sinks[b].texts() == [*texts, "the end"], "all, in order, once; the huge one skipped"
            assert b.message.skipped_too_large == 1
            gw = b.gateway
            assert gw is not None and gw.connected.is_set()
            drops = gw.read_limit_drops
            assert 0 < drops <= 20, f"bounded redials, no loop ({drops})"

            # The session goes on: a push arrives, history pages through the long ones.
            await send_text(a, b_id, "still here")
            await wait_until(lambda: env.sinks[b].texts()[-1:] == ["still here"], what="a push after the sync")
            conv_id = f"si_{'_'.join(sorted((a_id, b_id)))}"
            page = await b.message.get_advanced_history_message_list(
                HistoryParams(conversationID=conv_id, count=30), "history"
            )
            got = [m["textElem"]["content"] for m in page["messageList"]]
            assert got == [*texts, "the end", "still here"]
            assert b.message.skipped_too_large == 2, "history skips it the same way"
        finally:
            await b.logout("logout")


async def test_a_push_over_the_read_limit_is_skipped_once_and_delivery_goes_on(env: Env) -> None:
    a_id, b_id = await env.users(2)
    async with logged_in(env, a_id) as a, logged_in(env, b_id, max_frame=100_000) as b:
        await send_text(a, b_id, "before")
        await wait_until(lambda: env.sinks[b].texts() == ["before"], what="the first message")
        huge = {"content": {"content": cjk(60_000, 7)}, "contentType": 101, "sessionType": 1}
        admin = await admin_token(env.http, env.srv.api_url)
        await call(env.http, env.srv.api_url, "/msg/send_msg", {"sendID": a_id, "recvID": b_id, **huge}, admin)
        # Its push ends b's connection; the resync after the redial skips it.
        await wait_until(lambda: b.message.skipped_too_large == 1, timeout=30, what="the huge message skipped")
        await send_text(a, b_id, "after")
        await wait_until(lambda: env.sinks[b].texts() == ["before", "after"], timeout=30, what="the next message")
        assert b.gateway is not None and b.gateway.read_limit_drops <= 3, "the push, then two strikes"
