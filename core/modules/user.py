"""User functions and OnUserListener: self info, other users' info with a cache.

OpenIM routes: /user/get_users_info, /user/update_user_info_ex (openim-v3.md 5.3).
Notification 1303 UserInfoUpdated for the login user refreshes self info and
fires OnSelfInfoUpdated; 1303/1209 for others invalidate the cache (5.10).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.events import USER
from core.models import LocalUser, PublicUser
from core.modules.base import Module, NoParams, Params, tips_of
from core.protocol.constants import PARAM_MAX_LENGTH, ContentType
from core.protocol.openim_pb2 import MsgData
from core.registry import sdk_function
from core.server_reads import user_from_server
from core.untrusted import text

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["GetUsersInfoParams", "SetSelfInfoParams", "UserModule"]

_CACHE_SIZE = 1000
_UserIDs = list[str]


class SetSelfInfoParams(Params):
    """sdkws.UserInfoWithEx: an absent or null field is left unchanged."""

    nickname: str | None = Field(default=None, min_length=1, max_length=255)
    faceURL: str | None = Field(default=None, max_length=1024)
    ex: str | None = Field(default=None, max_length=4096)
    globalRecvMsgOpt: int | None = Field(default=None, ge=0, le=2)


class GetUsersInfoParams(Params):
    userIDs: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class UserModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.self_info: LocalUser | None = None
        self._cache: OrderedDict[str, PublicUser] = OrderedDict()

    # -- checkpoint ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"self": self.self_info.model_dump() if self.self_info else None}

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("self"):
            self.self_info = LocalUser.model_validate(data["self"])

    # -- sync ------------------------------------------------------------

    async def sync(self, operation_id: str) -> None:
        data = await self.core.api.post("/user/get_users_info", {"userIDs": [self.me]}, operation_id)
        users = (data or {}).get("usersInfo") or []
        if not users:
            return
        fresh = user_from_server(users[0])
        old, self.self_info = self.self_info, fresh
        self._cache.pop(self.me, None)
        if old is not None and old != fresh:
            await self.core.emit(USER, "OnSelfInfoUpdated", fresh.model_dump(), operation_id)

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        if msg.contentType not in (ContentType.USER_INFO_UPDATED, ContentType.FRIEND_INFO_UPDATED):
            return
        user_id = text(tips_of(msg), "userID")
        self._cache.pop(user_id, None)
        if user_id == self.me:
            await self.sync(operation_id)

    # -- functions -------------------------------------------------------

    @sdk_function("user", "GetSelfUserInfo", NoParams, LocalUser, read_only=True)
    async def get_self_user_info(self, params: NoParams, operation_id: str) -> LocalUser:
        """The login user's own profile."""
        if self.self_info is None:
            await self.sync(operation_id)
        assert self.self_info is not None
        return self.self_info

    @sdk_function("user", "SetSelfInfo", SetSelfInfoParams, None)
    async def set_self_info(self, params: SetSelfInfoParams, operation_id: str) -> None:
        """Update the login user's nickname, faceURL, ex or globalRecvMsgOpt."""
        info: dict[str, Any] = {"userID": self.me, **params.model_dump()}
        await self.core.api.post("/user/update_user_info_ex", {"userInfo": info}, operation_id)
        await self.sync(operation_id)

    @sdk_function("user", "GetUsersInfo", GetUsersInfoParams, list[PublicUser], read_only=True)
    async def get_users_info(self, params: GetUsersInfoParams, operation_id: str) -> list[PublicUser]:
        """Public profiles of users, served from a cache kept fresh by notifications."""
        missing = [u for u in dict.fromkeys(params.userIDs) if u not in self._cache]
        if missing:
            data = await self.core.api.post("/user/get_users_info", {"userIDs": missing}, operation_id)
            for raw in (data or {}).get("usersInfo") or []:
                user = PublicUser.model_validate(raw)
                self._cache[user.userID] = user
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        out = []
        for uid in params.userIDs:
            if uid in self._cache:
                self._cache.move_to_end(uid)
                out.append(self._cache[uid])
        return out
