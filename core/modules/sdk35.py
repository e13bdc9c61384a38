"""Function names open-im-sdk 3.5.2 apps still send, kept as thin wrappers of v3.8 calls
(open-im-sdk src/api/user.ts; issue 15). The 3.5 conversation and friend setters
(PinConversation, SetConversationRecvMessageOpt, SetFriendRemark, HideAllConversation,
...) live with their modules; these two had no home there.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.models import LocalBlack, LocalFriend, LocalGroupMember, PublicUser
from core.modules.base import Module, Params
from core.modules.user import GetUsersInfoParams, SetSelfInfoParams
from core.protocol.constants import PARAM_MAX_LENGTH
from core.registry import sdk_function

__all__ = ["FullUserInfoWithCache", "Sdk35Module"]


class UsersWithCacheParams(Params):
    userIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)
    groupID: str = Field(default="", max_length=64, description="also answer each user's membership of this group")


class GlobalRecvOptParams(Params):
    globalRecvMsgOpt: int = Field(ge=0, le=2, description="0 receive, 1 do not receive, 2 receive silently")


class FullUserInfoWithCache(BaseModel):
    """open-im-sdk FullUserItemWithCache: what the core knows of each user."""

    publicInfo: PublicUser | None
    friendInfo: LocalFriend | None
    blackInfo: LocalBlack | None
    groupMemberInfo: LocalGroupMember | None


class Sdk35Module(Module):
    @sdk_function("user", "GetUsersInfoWithCache", UsersWithCacheParams, list[FullUserInfoWithCache])
    async def get_users_info_with_cache(
        self, p: UsersWithCacheParams, operation_id: str
    ) -> list[FullUserInfoWithCache]:
        """3.5: profiles with friend, blacklist and (given groupID) group member info (GetUsersInfo in v3.8)."""
        public = {u.userID: u for u in await self.core.user.get_users_info(GetUsersInfoParams(userIDs=p.userIDList),
                                                                          operation_id)}  # fmt: skip
        members = self.core.group.members.get(p.groupID, {}) if p.groupID else {}
        return [
            FullUserInfoWithCache(
                publicInfo=public.get(u),
                friendInfo=self.core.friend.friends.get(u),
                blackInfo=self.core.friend.blacks.get(u),
                groupMemberInfo=members.get(u),
            )
            for u in dict.fromkeys(p.userIDList)
        ]

    @sdk_function("user", "SetGlobalRecvMessageOpt", GlobalRecvOptParams, None)
    async def set_global_recv_message_opt(self, p: GlobalRecvOptParams, operation_id: str) -> None:
        """3.5: the user's receive option for every conversation (SetSelfInfo's globalRecvMsgOpt in v3.8)."""
        await self.core.user.set_self_info(SetSelfInfoParams(globalRecvMsgOpt=p.globalRecvMsgOpt), operation_id)
