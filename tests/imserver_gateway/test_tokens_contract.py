"""The gateway against the HTTP side's real TokenService: the TokenVerifier contract."""

from __future__ import annotations

import json
from pathlib import Path

from websockets.asyncio.client import connect

from core.protocol.constants import ReqIdentifier
from core.protocol.errcodes import ErrCode
from imserver.db import create_all, make_engine, make_sessionmaker
from imserver.errors import ImError
from imserver.gateway import Hub, TokenVerifier, start_gateway
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService
from tests.imserver_gateway.harness import Client, within
from tests.support.wait import until


async def test_multi_login_marks_the_old_token_kicked(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    settings = ImServerSettings(
        data_dir=tmp_path, secret="contract-secret-with-enough-bytes-1234", clock=lambda: now[0]
    )
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'im.db'}")
    await create_all(engine)
    sessionmaker = make_sessionmaker(engine)
    service = TokenService(settings, sessionmaker)
    tokens: TokenVerifier = service  # the real service satisfies our Protocol (mypy checks it)
    hub = Hub()
    server = await start_gateway(settings, tokens, hub, sessionmaker, "127.0.0.1", 0)
    try:
        first, _ = await service.mint("u1", 2)
        now[0] += 1  # another second, another JWT
        second, _ = await service.mint("u1", 2)
        assert first != second

        def url(token: str) -> str:
            return (
                f"ws://127.0.0.1:{server.port}/?sendID=u1&token={token}&platformID=2"
                "&operationID=op&isBackground=false&sdkType=js&isMsgResp=true"
            )

        async with connect(url(first), compression=None) as ws1:
            assert json.loads(await within(ws1.recv()))["errCode"] == 0
            async with connect(url(second), compression=None) as ws2:
                assert json.loads(await within(ws2.recv()))["errCode"] == 0
                kick = Client(ws1, "u1", sdk="js", gzip=False)
                assert (await kick.recv_frame()).req_identifier == ReqIdentifier.KICK_ONLINE_MSG
                await within(ws1.wait_closed())

            async def kicked() -> bool:
                try:
                    await service.verify(first)
                except ImError as exc:
                    return exc.code == ErrCode.TokenKickedError
                return False

            # OpenIM sends the kick frame before it kicks the tokens (ws_server.go
            # multiTerminalLoginChecker: KickOnlineMessage, then KickTokens): the mark commits
            # after the frame, and the gateway then refuses the old token.
            await until(kicked, "the old token to be marked kicked")
            async with connect(url(first), compression=None) as again:
                assert json.loads(await within(again.recv()))["errCode"] == 1506
    finally:
        await server.close()
        await engine.dispose()
