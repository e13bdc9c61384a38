"""Test harness for the message gateway: a token verifier, a gateway on a loopback
port with a temporary SQLite database, and a small protocol client.

`Tokens` is a real implementation of our own `TokenVerifier` interface: it mints
and checks HS256 JWTs with OpenIM's claims (UserID, PlatformID, exp, iat) and keeps
a kicked set, so the gateway under test runs its real handshake code.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import jwt
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from core.protocol import gob
from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsReq, WsResp, decode_json_resp, encode_json_req, gunzip, gzip_bytes
from core.protocol.errcodes import ErrCode
from imserver import msgstore  # noqa: F401  (registers the tables on Base)
from imserver.db import create_all, make_engine, make_sessionmaker
from imserver.errors import ImError
from imserver.gateway import GatewayServer, Hub, IsBlocked, never_blocked, start_gateway
from imserver.settings import ImServerSettings

T = TypeVar("T")
M = TypeVar("M", bound=Message)

DEADLINE = 5.0
SECRET = "gateway-test-secret-of-at-least-32-bytes"


async def within(aw: Awaitable[T], seconds: float = DEADLINE) -> T:
    return await asyncio.wait_for(aw, seconds)


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    platform_id: int
    expire_at: int


@dataclass
class Tokens:
    """HS256 tokens with a kicked set; records mark_kicked calls."""

    now: float = 1_700_000_000.0
    kicked: set[str] = field(default_factory=set)
    issued: dict[str, tuple[str, int]] = field(default_factory=dict)
    kick_calls: list[tuple[str, int, str | None]] = field(default_factory=list)
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def mint(self, user_id: str, platform_id: int, ttl: int = 3600) -> str:
        # A distinct jti-like claim keeps two tokens for one terminal distinct.
        payload = {
            "UserID": user_id,
            "PlatformID": platform_id,
            "exp": int(self.now) + ttl,
            "iat": int(self.now) - 5,
            "n": next(self._n),
        }
        token = jwt.encode(payload, SECRET, algorithm="HS256")
        self.issued[token] = (user_id, platform_id)
        return token

    async def verify(self, token: str) -> Claims:
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.DecodeError as exc:
            raise ImError(ErrCode.TokenMalformedError, str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise ImError(ErrCode.TokenUnknownError, str(exc)) from exc
        if self.now >= claims["exp"]:
            raise ImError(ErrCode.TokenExpiredError, "token is expired")
        if token not in self.issued:
            raise ImError(ErrCode.TokenNotExistError)
        if token in self.kicked:
            raise ImError(ErrCode.TokenKickedError)
        return Claims(claims["UserID"], claims["PlatformID"], claims["exp"])

    async def mark_kicked(self, user_id: str, platform_id: int, except_token: str | None = None) -> None:
        self.kick_calls.append((user_id, platform_id, except_token))
        for token, owner in self.issued.items():
            if owner == (user_id, platform_id) and token != except_token:
                self.kicked.add(token)


@dataclass
class Env:
    settings: ImServerSettings
    tokens: Tokens
    hub: Hub
    sessionmaker: async_sessionmaker[AsyncSession]
    server: GatewayServer

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/"

    def query(self, user_id: str, platform_id: int = 2, token: str | None = None, **extra: str) -> str:
        params = {
            "sendID": user_id,
            "token": token if token is not None else self.tokens.mint(user_id, platform_id),
            "platformID": str(platform_id),
            "operationID": "op-connect",
            "isBackground": "false",
        }
        params.update(extra)
        return self.url + "?" + urlencode(params)

    @asynccontextmanager
    async def client(
        self,
        user_id: str,
        platform_id: int = 2,
        *,
        sdk: str = "js",
        gzip: bool = False,
        token: str | None = None,
        **extra: str,
    ) -> AsyncIterator[Client]:
        if sdk != "go":
            extra["sdkType"] = sdk
        if gzip:
            extra["compression"] = "gzip"
        async with connect(self.query(user_id, platform_id, token, **extra), max_size=None, compression=None) as ws:
            client = Client(ws, user_id, sdk=sdk, gzip=gzip)
            if extra.get("isMsgResp") == "true":
                assert json.loads(await within(ws.recv()))["errCode"] == 0
            # The server registers a connection before it reads: one heartbeat
            # round trip means the hub knows it.
            await client.heartbeat("sync")
            yield client


@asynccontextmanager
async def gateway_env(
    tmp_path: Path, settings: ImServerSettings | None = None, is_blocked: IsBlocked = never_blocked
) -> AsyncIterator[Env]:
    settings = settings or ImServerSettings(data_dir=tmp_path)
    tokens = Tokens()
    settings.clock = lambda: tokens.now
    engine: AsyncEngine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'im.db'}")
    await create_all(engine)
    sessionmaker: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    hub = Hub()
    server = await start_gateway(settings, tokens, hub, sessionmaker, "127.0.0.1", 0, is_blocked=is_blocked)
    try:
        yield Env(settings, tokens, hub, sessionmaker, server)
    finally:
        await server.close()
        await engine.dispose()


class Client:
    """Speaks the envelope (JSON or gob, optional gzip); sorts answers from pushes."""

    def __init__(self, ws: ClientConnection, user_id: str, *, sdk: str, gzip: bool) -> None:
        self.ws = ws
        self.user_id = user_id
        self.sdk = sdk
        self.gzip = gzip
        self._incr = itertools.count(1)
        self.pushes: asyncio.Queue[WsResp] = asyncio.Queue()

    def encode(self, req: WsReq) -> bytes:
        raw = gob.encode_req(req) if self.sdk == "go" else encode_json_req(req)
        return gzip_bytes(raw) if self.gzip else raw

    def decode(self, frame: bytes) -> WsResp:
        raw = gunzip(frame) if self.gzip else frame
        return gob.decode_resp(raw) if self.sdk == "go" else decode_json_resp(raw)

    async def heartbeat(self, body: object) -> None:
        await self.ws.send(json.dumps({"type": "ping", "body": body}))
        while True:
            frame = await within(self.ws.recv())
            if isinstance(frame, str):
                assert json.loads(frame) == {"type": "pong", "body": body}
                return
            await self.pushes.put(self.decode(frame))

    async def send_req(self, ident: int, body: Message | bytes = b"", *, msg_incr: str | None = None) -> str:
        msg_incr = msg_incr or f"{self.user_id}_{next(self._incr)}"
        data = body if isinstance(body, bytes) else body.SerializeToString()
        req = WsReq(ident, self.user_id, f"op-{msg_incr}", msg_incr, data)
        await self.ws.send(self.encode(req))
        return msg_incr

    async def recv_frame(self) -> WsResp:
        frame = await within(self.ws.recv())
        assert isinstance(frame, bytes), frame
        return self.decode(frame)

    async def request(self, ident: int, body: Message | bytes = b"") -> WsResp:
        msg_incr = await self.send_req(ident, body)
        while True:
            resp = await self.recv_frame()
            if resp.msg_incr == msg_incr:
                return resp
            await self.pushes.put(resp)

    async def call(self, ident: int, body: Message, kind: type[M]) -> M:
        resp = await self.request(ident, body)
        assert resp.err_code == 0, (resp.err_code, resp.err_msg)
        return kind.FromString(resp.data)

    async def next_server_frame(self) -> WsResp:
        if not self.pushes.empty():
            return self.pushes.get_nowait()
        return await self.recv_frame()

    async def next_push(self) -> pb.MsgData:
        """The single MsgData of the next 2001 frame."""
        resp = await self.next_server_frame()
        assert resp.req_identifier == ReqIdentifier.PUSH_MSG, resp
        push = pb.PushMessages.FromString(resp.data)
        entries = list(push.msgs.items()) + list(push.notificationMsgs.items())
        assert len(entries) == 1
        (_, pulled) = entries[0]
        assert len(pulled.Msgs) == 1
        return pulled.Msgs[0]


def text_msg(
    send_id: str, recv_id: str, client_msg_id: str, *, text: str = "hi", opts: dict[str, bool] | None = None
) -> pb.MsgData:
    msg = pb.MsgData(
        sendID=send_id,
        recvID=recv_id,
        clientMsgID=client_msg_id,
        senderPlatformID=2,
        sessionType=1,
        msgFrom=100,
        contentType=101,
        content=json.dumps({"content": text}).encode(),
        createTime=1,
    )
    msg.options.update(opts or {})
    return msg


def v_param(info: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(info).encode()).decode().rstrip("=")
