"""Logins: a session for (user, platform), started or re-attached only once its token is proven.

A stranger may send any userID with any token (issue 10). So the token is
proven with the upstream first (bridge/upstream.py) and must be that user's
for that platform; only then is a live session touched, and a refused login
leaves the session, its streams and its core exactly as they were. A login
with the token the session already runs on needs no proof: whoever holds it
is that device. Refused logins are logged (user, platform, reason, client
address, never the token). The upstream's admin users get no session (DESIGN.md
"Trust boundaries").

Each login mints a bridge session token; a session keeps the newest
`max_tokens_per_session` of them, so a device that logs in again and again
does not accumulate valid tokens (the directory revokes the oldest).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bridge.errors import BridgeError, status_for
from bridge.logs import log_fields, session_fields
from bridge.pool import SessionPool
from bridge.session_close import end_reason
from bridge.session_handle import SessionHandle
from bridge.sessions import SessionDirectory, SessionId, SessionRecord, hash_token, new_session_token
from bridge.settings import BridgeSettings
from bridge.upstream import Upstream
from core.errors import SdkError
from core.protocol.constants import ADMIN_PLATFORM_ID, PLATFORM_NAMES
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode

__all__ = ["MAX_TOKEN_CHARS", "Logins"]

# The longest OpenIM token a login takes, over REST and /ws alike (an HS256 JWT of a
# 64-character userID is ~200): a longer one is refused before it reaches the upstream.
MAX_TOKEN_CHARS = 4096

log = logging.getLogger("openim.bridge.login")


class Logins:
    def __init__(
        self, settings: BridgeSettings, pool: SessionPool, directory: SessionDirectory, upstream: Upstream
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._directory = directory
        self._upstream = upstream
        # One login at a time per (user, platform): two racing first logins must not start two sessions.
        self._locks: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}

    async def login(
        self,
        user_id: str,
        token: str,
        platform_id: int,
        operation_id: str,
        *,
        batch_messages: bool = False,
        issue_token: bool = True,
        client: str | None = None,
    ) -> tuple[str, SessionHandle]:
        """Start or re-attach the core of (user, platform); a new bridge session token
        is minted unless `issue_token` is False (a WebSocket login holds its socket
        instead of a bearer token)."""
        try:
            self._check_who(user_id, platform_id)
            self._pool.drain.refuse_new()
            async with self._serialised(user_id, platform_id):
                return await self._login(user_id, token, platform_id, operation_id, batch_messages, issue_token)
        except BridgeError as exc:
            if exc.status in (400, 401, 403):
                log.warning(
                    "login refused user=%s platform=%s reason=%s client=%s",
                    user_id,
                    platform_id,
                    f"{exc.code} {exc.detail}",
                    client or "-",
                    extra=log_fields(
                        userID=user_id, platformID=platform_id, status=exc.status, errCode=exc.code, client=client
                    ),
                )
            raise

    async def _login(
        self, user_id: str, token: str, platform_id: int, operation_id: str, batch_messages: bool, issue_token: bool
    ) -> tuple[str, SessionHandle]:
        existing = await self._directory.find(user_id, platform_id)
        same_token = existing is not None and hmac.compare_digest(existing.upstream_token, token)
        if not same_token:
            await self._prove(user_id, platform_id, token, operation_id)
        session_token = new_session_token()
        if existing is not None:
            handle = self._pool.handle(existing.session_id) or self._pool.track(existing)
            if same_token:
                await self._pool.revive(handle, operation_id)
            else:
                await self._pool.switch_token(handle, token, operation_id)
            if issue_token:
                await self._directory.add_token(handle.session_id, hash_token(session_token))
            log.info(
                "login re-attached user=%s platform=%s session=%s",
                user_id,
                platform_id,
                handle.session_id[:8],
                extra=session_fields(handle),
            )
            return (session_token if issue_token else ""), handle
        record = SessionRecord(
            SessionId(uuid.uuid4().hex),
            user_id,
            platform_id,
            token,
            self._settings.clock(),
            batch_messages=batch_messages,
        )
        handle = await self._pool.start_new(record, operation_id)
        # A record without a usable token still needs one key; an unguessable one
        # that was never handed out is as good as none.
        await self._directory.create(record, hash_token(session_token if issue_token else new_session_token()))
        log.info(
            "login user=%s platform=%s session=%s",
            user_id,
            platform_id,
            record.session_id[:8],
            extra=session_fields(handle),
        )
        return (session_token if issue_token else ""), handle

    def _check_who(self, user_id: str, platform_id: int) -> None:
        if platform_id not in PLATFORM_NAMES or platform_id == ADMIN_PLATFORM_ID:
            raise BridgeError(400, ErrCode.ArgsError, f"platformID {platform_id} is not a user platform (1-9, 11)")
        if user_id in self._settings.admin_user_ids:
            raise BridgeError(
                403,
                ErrCode.NoPermissionError,
                f"{user_id} is an administrator of the OpenIM server; the bridge gives admin users no session",
            )

    async def _prove(self, user_id: str, platform_id: int, token: str, operation_id: str) -> None:
        """The token must be valid upstream and be `user_id`'s for `platform_id`."""
        try:
            owner = await self._upstream.token_owner(token, operation_id)
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS or exc.code == ErrCode.ArgsError:
                raise BridgeError(401, exc.code, f"token refused by the OpenIM server: {exc.msg}") from exc
            raise BridgeError(status_for(exc.code), exc.code, exc.detail or exc.msg, msg=exc.msg) from exc
        if owner.user_id != user_id or owner.platform_id != platform_id:
            raise BridgeError(
                401,
                ErrCode.TokenInvalidError,
                f"the token is not a token of user {user_id} for platformID {platform_id}",
            )

    @asynccontextmanager
    async def _serialised(self, user_id: str, platform_id: int) -> AsyncIterator[None]:
        key = (user_id, platform_id)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def authenticate(self, session_token: str) -> SessionHandle:
        """The session a bearer token belongs to: 401 with the errCode that ended it, or 1507 unknown."""
        record = await self._directory.resolve(hash_token(session_token))
        if record is None:
            raise BridgeError(401, ErrCode.TokenNotExistError, "unknown or expired session token")
        if record.ended_code is not None:
            code = record.ended_code
            raise BridgeError(401, code, f"session ended: {end_reason(code)}")
        return self._pool.handle(record.session_id) or self._pool.track(record)
