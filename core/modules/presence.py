"""Online status of other users and OnUserStatusChanged (open_im_sdk/online.go;
internal/interaction/online.go, subscription.go; openim-v3.md 2.8 request 2005).

The core keeps the set of subscribed userIDs (in its checkpoint, so a
revived core subscribes again) and their last known platforms. Gateway
request 2005 subscribes / unsubscribes and answers the current platforms;
afterwards the server pushes 2005 frames when a subscribed user's online
platforms change, which fire OnUserStatusChanged. After every (re)connect
the subscriptions are sent again, as long_conn_mgr.go does, and a status
that changed meanwhile fires the callback too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field

from core.errors import SdkError
from core.events import USER
from core.modules.base import Module, NoParams, Params
from core.protocol import openim_pb2 as pb
from core.protocol.constants import PARAM_MAX_LENGTH, OnlineState, ReqIdentifier
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["OnlineStatus", "PresenceModule"]

# Subscriptions one session keeps (OpenIM bounds them per connection too).
_MAX_SUBSCRIBED = 3000


class OnlineStatus(BaseModel):
    """user.OnlineStatus: status 1 online, 0 offline; the platforms it is online on."""

    userID: str
    status: int
    platformIDs: list[int]


class UserIDsParams(Params):
    userIDs: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class PresenceModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.subscribed: set[str] = set()
        self._online: dict[str, list[int]] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"subscribed": sorted(self.subscribed)}

    def restore(self, data: dict[str, Any]) -> None:
        self.subscribed = {str(u) for u in data.get("subscribed") or []}

    def _status(self, user_id: str) -> OnlineStatus:
        platforms = self._online.get(user_id, [])
        return OnlineStatus(
            userID=user_id, status=OnlineState.ONLINE if platforms else OnlineState.OFFLINE, platformIDs=platforms
        )

    async def _request(self, sub: list[str], unsub: list[str], operation_id: str) -> pb.SubUserOnlineStatusTips:
        gw = self.core.gateway
        if gw is None:
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        req = pb.SubUserOnlineStatus(subscribeUserID=sub, unsubscribeUserID=unsub)
        data = await gw.request(ReqIdentifier.SUB_USER_ONLINE_STATUS, req.SerializeToString(), operation_id)
        try:
            return pb.SubUserOnlineStatusTips.FromString(data)
        except DecodeError as exc:
            raise SdkError(ErrCode.NetworkError, detail="undecodable online status answer") from exc

    async def _apply(self, tips: pb.SubUserOnlineStatusTips, operation_id: str | None) -> None:
        """Record platforms; OnUserStatusChanged for each subscribed user whose platforms changed."""
        for elem in tips.subscribers:
            platforms = sorted(set(elem.onlinePlatformIDs))
            before = self._online.get(elem.userID)
            if elem.userID not in self.subscribed:
                continue  # a late push for an unsubscribed user (subscription.go unsub)
            self._online[elem.userID] = platforms
            if before is not None and before != platforms:
                await self.core.emit(USER, "OnUserStatusChanged", self._status(elem.userID).model_dump(), operation_id)

    async def sync(self, operation_id: str) -> None:
        """Subscribe again after a (re)connect (long_conn_mgr.go getNewConnSubUserIDs)."""
        if self.subscribed:
            await self._apply(await self._request(sorted(self.subscribed), [], operation_id), operation_id)

    async def on_status_push(self, data: bytes, operation_id: str | None) -> None:
        try:
            tips = pb.SubUserOnlineStatusTips.FromString(data)
        except DecodeError:
            self.core.stats.bad_pushes += 1
            return
        await self._apply(tips, operation_id)

    @sdk_function("user", "SubscribeUsersStatus", UserIDsParams, list[OnlineStatus])
    async def subscribe_users_status(self, p: UserIDsParams, operation_id: str) -> list[OnlineStatus]:
        """Subscribe to users' online status (OnUserStatusChanged); their status now."""
        ids = list(dict.fromkeys(p.userIDs))
        if len(self.subscribed | set(ids)) > _MAX_SUBSCRIBED:
            raise SdkError(ErrCode.SdkArgsError, detail=f"at most {_MAX_SUBSCRIBED} subscribed users")
        self.subscribed.update(ids)
        self.core.checkpoint_dirty()
        tips = await self._request(ids, [], operation_id)
        for elem in tips.subscribers:
            self._online[elem.userID] = sorted(set(elem.onlinePlatformIDs))
        return [self._status(u) for u in ids]

    @sdk_function("user", "GetUserStatus", UserIDsParams, list[OnlineStatus])
    async def get_user_status(self, p: UserIDsParams, operation_id: str) -> list[OnlineStatus]:
        """Users' online status (as in the SDK, this subscribes to them)."""
        return await self.subscribe_users_status(p, operation_id)

    @sdk_function("user", "UnsubscribeUsersStatus", UserIDsParams, None)
    async def unsubscribe_users_status(self, p: UserIDsParams, operation_id: str) -> None:
        """Stop OnUserStatusChanged for these users."""
        ids = [u for u in dict.fromkeys(p.userIDs) if u in self.subscribed]
        self.subscribed.difference_update(ids)
        for u in ids:
            self._online.pop(u, None)
        self.core.checkpoint_dirty()
        if ids:
            await self._request([], ids, operation_id)

    @sdk_function("user", "GetSubscribeUsersStatus", NoParams, list[OnlineStatus])
    async def get_subscribe_users_status(self, p: NoParams, operation_id: str) -> list[OnlineStatus]:
        """The online status of every subscribed user."""
        unknown = sorted(u for u in self.subscribed if u not in self._online)
        if unknown:
            tips = await self._request(unknown, [], operation_id)
            for elem in tips.subscribers:
                self._online[elem.userID] = sorted(set(elem.onlinePlatformIDs))
        return [self._status(u) for u in sorted(self.subscribed)]
