"""OpenIM user tokens: HS256 JWTs plus the server-side token map.

Minting follows openimsdk/tools tokenverify.BuildClaims and open-im-server
pkg/common/storage/controller/auth.go CreateToken; checking follows
internal/rpc/auth/auth.go parseToken (openim-v3.md 1.3):

1. JWT parse/verify: malformed -> 1503, expired -> 1501, not valid yet (nbf)
   -> 1504, anything else (bad signature, iat in the future) -> 1505. Time is
   the injected settings clock, never the real one.
2. Admin user IDs are accepted after step 1 (OpenIM never stores their tokens).
3. Others must be in the token map with state 0; absent -> 1507, kicked (2)
   -> 1506, other states -> 1505.

Verified tokens are remembered (issue 14: every API call and handshake verified the JWT
and read the token table): a token known to be normal skips the decode and the read,
not the time checks, which run against the clock on every call. Everything that changes
a user's tokens on a platform (kicks, force_logout, the issue policy's pruning and cap)
bumps that (user, platform)'s stamp, which voids what was remembered for it, so a
revocation applies to the very next call, as OpenIM's token map in Redis does
(pkg/common/storage/cache/redis/token.go; internal/rpc/auth/auth.go parseToken reads it
on every check).

Issuing a token prunes that user's expired or non-normal tokens on the same
platform and caps the platform's normal tokens at `max_tokens_one_end` by
kicking the oldest (the maxNumOneEnd rule). The "new connection kicks the
other tokens of its terminal" part of multi-login policy 1 is applied by the
gateway when a connection arrives (openim-v3.md 2.8), via `mark_kicked`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import TokenState
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.models import TokenRow
from imserver.reads import reads_for
from imserver.services.common import insert_ignore
from imserver.settings import ImServerSettings

__all__ = ["Claims", "TokenService", "token_digest"]

# tokenverify.secondBefore: iat is backdated so clock skew does not reject fresh tokens.
_IAT_BACKDATE_SECONDS = 5
# How far `exp` may be pushed to keep a new token distinct from the stored ones.
_MAX_EXP_NUDGE = 64
# Verified tokens remembered at most (the oldest go first).
_MAX_KNOWN_TOKENS = 100_000
# A token's row, read on its first check.
_TOKEN = select(TokenRow.__table__).where(TokenRow.__table__.c.token_hash == bindparam("hash"))


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    platform_id: int
    expire_at: int


@dataclass(frozen=True, slots=True)
class _Decoded:
    claims: Claims
    exp: float | None
    nbf: float | None
    iat: float | None


@dataclass(frozen=True, slots=True)
class _Known:
    decoded: _Decoded
    stamp: int  # the (user, platform) stamp when the token was read as normal


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, settings: ImServerSettings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        if not settings.secret:  # an empty HS256 key would let anyone sign tokens
            raise ValueError("imserver needs a secret (run_imserver generates one when none is set)")
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = reads_for(sessionmaker)  # prebuilt, inline on SQLite (imserver.reads)
        self._known: dict[str, _Known] = {}
        self._stamps: dict[tuple[str, int], int] = {}

    def is_admin(self, user_id: str) -> bool:
        return user_id in self._settings.admin_user_ids

    async def mint(self, user_id: str, platform_id: int) -> tuple[str, int]:
        """A new token and its lifetime in seconds (`expireTimeSeconds`).

        HS256 over the same claims in the same second gives the same JWT, so two
        devices asking within a second would share one token (and the gateway
        would never tell them apart). A user token therefore expires up to a few
        seconds later than `now + ttl` when needed to be distinct from every
        token still in the table; the claim set stays OpenIM's.
        """
        now = int(self._settings.clock())
        ttl = self._settings.token_expire_seconds
        if self.is_admin(user_id):
            return self._encode(user_id, platform_id, now, now + ttl), ttl
        self._revoke(user_id, platform_id)
        async with self._sessionmaker.begin() as session:
            await self._apply_issue_policy(session, user_id, platform_id, now)
            for extra in range(_MAX_EXP_NUDGE):
                token = self._encode(user_id, platform_id, now, now + ttl + extra)
                if await session.get(TokenRow, token_digest(token)) is None:
                    break
            await self._store(session, token, user_id, platform_id, now + ttl + extra)
        self._revoke(user_id, platform_id)  # the policy may have kicked or pruned some
        return token, ttl

    def _encode(self, user_id: str, platform_id: int, now: int, exp: int) -> str:
        payload = {"UserID": user_id, "PlatformID": platform_id, "exp": exp, "iat": now - _IAT_BACKDATE_SECONDS}
        with _short_keys_allowed():
            return jwt.encode(payload, self._settings.secret, algorithm="HS256")

    async def verify(self, token: str) -> Claims:
        known = self._known.get(token)
        if known is not None:
            claims = known.decoded.claims
            if known.stamp == self._stamps.get((claims.user_id, claims.platform_id), 0):
                return self._check_times(known.decoded)
            del self._known[token]
        decoded = self._decode(token)
        claims = self._check_times(decoded)
        key = (claims.user_id, claims.platform_id)
        stamp = self._stamps.get(key, 0)
        if not self.is_admin(claims.user_id):
            digest = token_digest(token)
            rows = await self._reads.run(lambda tx: tx.rows(_TOKEN, {"hash": digest}))
            row = rows[0] if rows else None
            if row is None or row.user_id != claims.user_id or row.platform_id != claims.platform_id:
                raise ImError(ErrCode.TokenNotExistError)
            if row.state == TokenState.KICKED:
                raise ImError(ErrCode.TokenKickedError)
            if row.state != TokenState.NORMAL:
                raise ImError(ErrCode.TokenUnknownError, f"token state {row.state}")
        # Not if a change to this user's tokens committed while the row was read.
        if self._stamps.get(key, 0) == stamp:
            self._remember(token, _Known(decoded, stamp))
        return claims

    def _remember(self, token: str, known: _Known) -> None:
        if len(self._known) >= _MAX_KNOWN_TOKENS:
            del self._known[next(iter(self._known))]
        self._known[token] = known

    def _revoke(self, user_id: str, platform_id: int) -> None:
        """Void what is remembered of this user's tokens on this platform."""
        key = (user_id, platform_id)
        self._stamps[key] = self._stamps.get(key, 0) + 1

    async def mark_kicked(self, user_id: str, platform_id: int, except_token: str | None = None) -> None:
        stmt = (
            update(TokenRow)
            .where(TokenRow.user_id == user_id, TokenRow.platform_id == platform_id)
            .values(state=int(TokenState.KICKED))
        )
        if except_token is not None:
            stmt = stmt.where(TokenRow.token_hash != token_digest(except_token))
        # Before: checks during the commit read the table; after: what they remembered goes.
        self._revoke(user_id, platform_id)
        async with self._sessionmaker.begin() as session:
            await session.execute(stmt)
        self._revoke(user_id, platform_id)

    def _decode(self, token: str) -> _Decoded:
        try:
            with _short_keys_allowed():
                payload: dict[str, Any] = jwt.decode(
                    token,
                    self._settings.secret,
                    algorithms=["HS256"],
                    # Time claims are checked by _check_times against the injected clock.
                    options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
                )
        except jwt.InvalidSignatureError as exc:
            raise ImError(ErrCode.TokenUnknownError, "signature is invalid") from exc
        except jwt.DecodeError as exc:
            raise ImError(ErrCode.TokenMalformedError, str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise ImError(ErrCode.TokenUnknownError, str(exc)) from exc
        user_id = payload.get("UserID", "")
        platform_id = payload.get("PlatformID", 0)
        exp, nbf, iat = payload.get("exp"), payload.get("nbf"), payload.get("iat")
        # Go decodes the claims into typed fields; a wrongly typed claim fails decoding (malformed).
        if (
            not isinstance(user_id, str)
            or not _is_int(platform_id)
            or not all(t is None or _is_number(t) for t in (exp, nbf, iat))
        ):
            raise ImError(ErrCode.TokenMalformedError, "claims have wrong types")
        claims = Claims(user_id=user_id, platform_id=int(platform_id), expire_at=int(exp or 0))
        return _Decoded(claims, exp, nbf, iat)

    def _check_times(self, d: _Decoded) -> Claims:
        now = self._settings.clock()
        # golang-jwt v4 RegisteredClaims.Valid: errors are bit flags; tokenverify maps
        # malformed, then expired, then not-valid-yet, anything else -> unknown.
        if d.exp is not None and now >= d.exp:
            raise ImError(ErrCode.TokenExpiredError, "token is expired")
        if d.nbf is not None and now < d.nbf:
            raise ImError(ErrCode.TokenNotValidYetError, "token is not valid yet")
        if d.iat is not None and now < d.iat:
            raise ImError(ErrCode.TokenUnknownError, "token used before issued")
        return d.claims

    async def _apply_issue_policy(self, session: AsyncSession, user_id: str, platform_id: int, now: int) -> None:
        rows = (
            (
                await session.execute(
                    select(TokenRow)
                    .where(TokenRow.user_id == user_id, TokenRow.platform_id == platform_id)
                    .order_by(TokenRow.issued_at_ms, TokenRow.token_hash)
                )
            )
            .scalars()
            .all()
        )
        stale = {r.token_hash for r in rows if r.state != TokenState.NORMAL or r.expire_at <= now}
        if stale:
            await session.execute(delete(TokenRow).where(TokenRow.token_hash.in_(stale)))
        normal = [r.token_hash for r in rows if r.token_hash not in stale]
        surplus = len(normal) + 1 - self._settings.max_tokens_one_end
        if surplus > 0:
            await session.execute(
                update(TokenRow).where(TokenRow.token_hash.in_(normal[:surplus])).values(state=int(TokenState.KICKED))
            )

    async def _store(self, session: AsyncSession, token: str, user_id: str, platform_id: int, exp: int) -> None:
        digest = token_digest(token)
        # The same claims in the same second give the same JWT; re-issuing makes it normal again.
        await insert_ignore(
            session,
            TokenRow,
            [
                {
                    "token_hash": digest,
                    "user_id": user_id,
                    "platform_id": platform_id,
                    "state": int(TokenState.NORMAL),
                    "expire_at": exp,
                    "issued_at_ms": self._settings.now_ms(),
                }
            ],
        )
        await session.execute(
            update(TokenRow).where(TokenRow.token_hash == digest).values(state=int(TokenState.NORMAL))
        )


@contextmanager
def _short_keys_allowed() -> Iterator[None]:
    # OpenIM's default share.secret ("openIM123") is shorter than RFC 7518 recommends for
    # HS256; PyJWT warns about it. The secret is the operator's choice, and must match
    # the real server's to interoperate, so the warning is not ours to raise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
