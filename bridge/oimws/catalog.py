"""The function names `open-im-sdk` 3.5.2 sends as `reqFuncName`, and how the bridge treats each.

Source: open-im-sdk 3.5.2 `src/constant/api.ts` (enum RequestApi) and `src/api/*.ts`
(which of them actually go over the socket). Three kinds:

- session names (`InitSDK`, `Login`, `Logout`) are handled by the connection
  itself, since they start, re-attach or end a session of the pool;
- client-side names (`UploadFile`, `Create*MessageByFile`) never reach a server:
  the package uploads through the HTTP API itself and then calls the `...ByURL`
  variant, so they have no REST meaning;
- every other name is an SDK function of core's registry (see `argmap`).
"""

from __future__ import annotations

__all__ = ["CLIENT_SIDE", "INIT_SDK", "LOGIN", "LOGOUT", "OPEN_IM_SDK_NAMES", "SESSION_NAMES"]

INIT_SDK = "InitSDK"
LOGIN = "Login"
LOGOUT = "Logout"
SESSION_NAMES = frozenset({INIT_SDK, LOGIN, LOGOUT})

#: Never sent by the package (it runs them in the page); why they are not answered.
CLIENT_SIDE: dict[str, str] = {
    name: "runs inside open-im-sdk (File upload via the HTTP API, then the ...ByURL call); never sent"
    for name in (
        "UploadFile",
        "CreateImageMessageByFile",
        "CreateSoundMessageByFile",
        "CreateVideoMessageByFile",
        "CreateFileMessageByFile",
    )
}

#: Every RequestApi member of open-im-sdk 3.5.2, in its order.
OPEN_IM_SDK_NAMES: tuple[str, ...] = (
    # auth
    "InitSDK",
    "Login",
    "Logout",
    "GetLoginStatus",
    "GetLoginUserID",
    # user
    "GetSelfUserInfo",
    "SetSelfInfo",
    "GetUsersInfoWithCache",
    "SubscribeUsersStatus",
    "UnsubscribeUsersStatus",
    "GetSubscribeUsersStatus",
    "SetAppBackgroundStatus",
    "NetworkStatusChanged",
    "SetGlobalRecvMessageOpt",
    # friend
    "AcceptFriendApplication",
    "AddBlack",
    "AddFriend",
    "CheckFriend",
    "DeleteFriend",
    "GetBlackList",
    "GetFriendApplicationListAsApplicant",
    "GetFriendApplicationListAsRecipient",
    "GetFriendList",
    "GetSpecifiedFriendsInfo",
    "RefuseFriendApplication",
    "RemoveBlack",
    "SearchFriends",
    "SetFriendRemark",
    # group
    "CreateGroup",
    "JoinGroup",
    "InviteUserToGroup",
    "GetJoinedGroupList",
    "SearchGroups",
    "GetSpecifiedGroupsInfo",
    "SetGroupInfo",
    "GetGroupApplicationListAsRecipient",
    "GetGroupApplicationListAsApplicant",
    "AcceptGroupApplication",
    "RefuseGroupApplication",
    "GetGroupMemberList",
    "GetSpecifiedGroupMembersInfo",
    "SearchGroupMembers",
    "SetGroupMemberInfo",
    "GetGroupMemberOwnerAndAdmin",
    "GetGroupMemberListByJoinTimeFilter",
    "KickGroupMember",
    "ChangeGroupMemberMute",
    "ChangeGroupMute",
    "TransferGroupOwner",
    "DismissGroup",
    "QuitGroup",
    # conversation
    "GetAllConversationList",
    "GetConversationListSplit",
    "GetOneConversation",
    "GetMultipleConversation",
    "GetConversationIDBySessionType",
    "GetTotalUnreadMsgCount",
    "MarkConversationMessageAsRead",
    "SetConversationDraft",
    "PinConversation",
    "SetConversationRecvMessageOpt",
    "SetConversationPrivateChat",
    "SetConversationBurnDuration",
    "ResetConversationGroupAtType",
    "HideConversation",
    "HideAllConversation",
    "ClearConversationAndDeleteAllMsg",
    "DeleteConversationAndDeleteAllMsg",
    # message
    "CreateTextMessage",
    "CreateTextAtMessage",
    "CreateImageMessageByFile",
    "CreateImageMessageByURL",
    "CreateSoundMessageByFile",
    "CreateSoundMessageByURL",
    "CreateVideoMessageByFile",
    "CreateVideoMessageByURL",
    "CreateFileMessageByFile",
    "CreateFileMessageByURL",
    "CreateMergerMessage",
    "CreateForwardMessage",
    "CreateLocationMessage",
    "CreateQuoteMessage",
    "CreateCardMessage",
    "CreateCustomMessage",
    "CreateFaceMessage",
    "SendMessage",
    "SendMessageNotOss",
    "UploadFile",
    "TypingStatusUpdate",
    "RevokeMessage",
    "DeleteMessage",
    "DeleteMessageFromLocalStorage",
    "DeleteAllMsgFromLocal",
    "DeleteAllMsgFromLocalAndSvr",
    "SearchLocalMessages",
    "GetAdvancedHistoryMessageList",
    "GetAdvancedHistoryMessageListReverse",
    "FindMessageList",
    "InsertGroupMessageToLocalStorage",
    "InsertSingleMessageToLocalStorage",
    "SetMessageLocalEx",
)
