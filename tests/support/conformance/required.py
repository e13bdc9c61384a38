"""What the real server refuses even when every key and type is right.

After decoding, the server runs the request message's `Check()` (openimsdk/tools
checker.Validate, called by a2r.Call and by the gRPC server interceptor
mw/rpc_server_interceptor.go, so for gateway requests too). Those methods live in
openimsdk/protocol `<dir>/<dir>.go` (v0.0.73-alpha.12); RULES restates them, for
every request message that ROUTES or GATEWAY can reach.

Rule forms (a path is dotted field names; an absent or null value is Go's zero):
  `p`            Go's `x.P == ""` / `== 0` / `== nil`: a list or message must be
                 present (`[]` passes: encoding/json makes it a non-nil slice)
  `p[]`          `len(x.P) == 0` fails
  `a|b`          at least one of them non-zero
  `p in A..B`    A <= p <= B;  `p >= A` likewise
  `p == V`       p equals the integer V
  `p[*] != 0`    no element is 0
  `if p == V: R` rule R applies only when p equals V
  `p[] <= N`     at most N elements (constant.ParamMaxLength = 1000)

OLDER_SERVER lists request fields that openimsdk/protocol v0.0.72-alpha.71 lacks:
open-im-server v3.8.3 (up to -patch.2) pins that version and silently ignores
them (v3.8.3-patch.5 and later pin v0.0.73-alpha.12, which the wasm embeds).
`git diff v0.0.72-alpha.71 v0.0.73-alpha.12 -- '*.proto'` in openimsdk/protocol.
"""

from __future__ import annotations

__all__ = ["OLDER_SERVER", "OLDER_SERVER_RESPONSES", "RULES"]

_PAGE = ("pagination", "pagination.pageNumber >= 1")
_MAX = 1000  # constant.ParamMaxLength

RULES: dict[str, tuple[str, ...]] = {
    # auth/auth.go
    "openim.auth.forceLogoutReq": ("userID", "platformID in 1..10"),
    "openim.auth.getAdminTokenReq": ("userID",),
    "openim.auth.parseTokenReq": ("token",),
    # conversation/conversation.go
    "openim.conversation.GetAllConversationsReq": ("ownerUserID",),
    "openim.conversation.GetConversationsReq": ("ownerUserID", "conversationIDs"),
    "openim.conversation.GetSortedConversationListReq": ("userID", *_PAGE),
    "openim.conversation.SetConversationsReq": (
        "userIDs",
        "conversation",
        "conversation.conversationType",
        "if conversation.conversationType == 1: conversation.userID",
        "if conversation.conversationType == 3: conversation.groupID",
    ),
    # group/group.go
    "openim.group.CancelMuteGroupMemberReq": ("groupID", "userID"),
    "openim.group.CancelMuteGroupReq": ("groupID",),
    "openim.group.CreateGroupReq": (
        "groupInfo",
        "groupInfo.groupType in 0..2",
        "ownerUserID",
        f"memberUserIDs[] <= {_MAX}",
    ),
    "openim.group.DismissGroupReq": ("groupID",),
    "openim.group.GetFullGroupMemberUserIDsReq": ("groupID",),
    "openim.group.GetFullJoinGroupIDsReq": ("userID",),
    "openim.group.GetGroupAbstractInfoReq": ("groupIDs", f"groupIDs[] <= {_MAX}"),
    "openim.group.GetGroupApplicationListReq": (*_PAGE, "fromUserID"),
    "openim.group.GetGroupMemberListReq": ("groupID", *_PAGE, "filter in 0..5"),
    "openim.group.GetGroupMemberUserIDsReq": ("groupID",),
    "openim.group.GetGroupMembersInfoReq": ("groupID", "userIDs"),
    "openim.group.GetGroupsInfoReq": ("groupIDs",),
    "openim.group.GetGroupsReq": _PAGE,
    "openim.group.GetJoinedGroupListReq": (*_PAGE, "fromUserID"),
    "openim.group.GetUserReqApplicationListReq": ("userID", *_PAGE),
    "openim.group.GroupApplicationResponseReq": ("groupID", "fromUserID", "handleResult in -1..1"),
    "openim.group.GroupCreateCountReq": ("start >= 1", "end >= 1"),
    "openim.group.InviteUserToGroupReq": ("groupID", "invitedUserIDs", f"invitedUserIDs[] <= {_MAX}"),
    "openim.group.JoinGroupReq": ("groupID", "joinSource in 1..4", "if joinSource == 2: inviterUserID"),
    "openim.group.KickGroupMemberReq": ("groupID", "kickedUserIDs", f"kickedUserIDs[] <= {_MAX}"),
    "openim.group.MuteGroupMemberReq": ("groupID", "userID", "mutedSeconds >= 1"),
    "openim.group.MuteGroupReq": ("groupID",),
    "openim.group.QuitGroupReq": ("groupID",),
    "openim.group.SetGroupInfoReq": ("groupInfoForSet", "groupInfoForSet.groupID"),
    "openim.group.SetGroupMemberInfoReq": ("members", f"members[] <= {_MAX}"),
    "openim.group.TransferGroupOwnerReq": ("groupID", "oldOwnerUserID", "newOwnerUserID"),
    "openim.group.getGroupUsersReqApplicationListReq": ("groupID", "userIDs", f"userIDs[] <= {_MAX}"),
    # msg/msg.go
    "openim.msg.ClearConversationsMsgReq": ("conversationIDs", "userID"),
    "openim.msg.DeleteMsgPhysicalReq": ("conversationIDs",),
    "openim.msg.DeleteMsgsReq": ("conversationID", "userID", "seqs"),
    "openim.msg.GetConversationsHasReadAndMaxSeqReq": ("userID",),
    "openim.msg.MarkConversationAsReadReq": ("conversationID", "userID", "hasReadSeq >= 1", "seqs[*] != 0"),
    "openim.msg.MarkMsgsAsReadReq": ("conversationID", "seqs", "userID", "seqs[*] != 0"),
    "openim.msg.RevokeMsgReq": ("conversationID", "seq >= 1", "userID"),
    "openim.msg.SetConversationHasReadSeqReq": ("conversationID", "userID", "hasReadSeq >= 1"),
    "openim.msg.UserClearAllMsgReq": ("userID",),
    # push/push.go
    "openim.push.DelUserPushTokenReq": ("userID", "platformID in 1..9"),
    # relation/relation.go
    "openim.relation.addBlackReq": ("ownerUserID", "blackUserID"),
    "openim.relation.applyToAddFriendReq": ("toUserID", "fromUserID"),
    "openim.relation.deleteFriendReq": ("ownerUserID", "friendUserID"),
    "openim.relation.getDesignatedFriendsApplyReq": ("fromUserID", "toUserID"),
    "openim.relation.getDesignatedFriendsReq": ("ownerUserID", "friendUserIDs"),
    "openim.relation.getFriendIDsReq": ("userID",),
    "openim.relation.getFullFriendUserIDsReq": ("userID",),
    "openim.relation.getPaginationBlacksReq": ("userID", *_PAGE),
    "openim.relation.getPaginationFriendsApplyFromReq": ("userID", *_PAGE),
    "openim.relation.getPaginationFriendsApplyToReq": ("userID", *_PAGE),
    "openim.relation.getPaginationFriendsReq": (*_PAGE, "userID"),
    "openim.relation.getSpecifiedFriendsInfoReq": ("ownerUserID", "userIDList", f"userIDList[] <= {_MAX}"),
    "openim.relation.importFriendReq": ("ownerUserID", "friendUserIDs", f"friendUserIDs[] <= {_MAX}"),
    "openim.relation.isFriendReq": ("userID1", "userID2"),
    "openim.relation.removeBlackReq": ("ownerUserID", "blackUserID"),
    "openim.relation.respondFriendApplyReq": ("toUserID", "fromUserID"),
    "openim.relation.setFriendRemarkReq": ("ownerUserID", "friendUserID"),
    "openim.relation.updateFriendsReq": ("ownerUserID", "friendUserIDs", f"friendUserIDs[] <= {_MAX}"),
    # sdkws/sdkws.go (MsgData.Check, also run by SendMsgReq.Check)
    "openim.sdkws.MsgData": (
        "sendID",
        "content",
        "if sessionType == 4: contentType == 1400",
        "if contentType == 1400: sessionType == 4",
    ),
    # third/third.go (urlPrefix is set by the API from its config before Check)
    "openim.third.FcmUpdateTokenReq": ("platformID in 1..10", "fcmToken", "account"),
    "openim.third.SetAppBadgeReq": ("userID",),
    # user/user.go
    "openim.user.accountCheckReq": ("checkUserIDs",),
    "openim.user.addNotificationAccountReq": ("nickName",),
    "openim.user.getAllUserIDReq": _PAGE,
    "openim.user.getDesignateUsersReq": ("userIDs",),
    "openim.user.getPaginationUsersReq": _PAGE,
    "openim.user.getSubscribeUsersStatusReq": ("userID",),
    "openim.user.getUserStatusReq": ("userIDs[]",),
    "openim.user.processUserCommandAddReq": ("userID", "type", "uuid"),
    "openim.user.processUserCommandDeleteReq": ("userID", "type", "uuid"),
    "openim.user.processUserCommandGetAllReq": ("userID",),
    "openim.user.processUserCommandGetReq": ("userID", "type"),
    "openim.user.processUserCommandUpdateReq": ("userID", "type", "uuid"),
    "openim.user.searchNotificationAccountReq": _PAGE,
    "openim.user.setGlobalRecvMessageOptReq": ("globalRecvMsgOpt in 0..2", "userID"),
    "openim.user.subscribeOrCancelUsersStatusReq": ("userID", "userIDs", "genre in 1..2"),
    "openim.user.updateNotificationAccountInfoReq": ("userID", "faceURL|nickName"),
    "openim.user.updateUserInfoExReq": ("userInfo", "userInfo.userID"),
    "openim.user.updateUserInfoReq": ("userInfo", "userInfo.userID"),
    "openim.user.userRegisterCountReq": ("start >= 1", "end >= 1"),
    "openim.user.userRegisterReq": ("users",),
}

# message -> fields a v3.8.3 server does not decode (see the module docstring).
OLDER_SERVER: dict[str, tuple[str, ...]] = {
    "openim.group.CreateGroupReq": ("sendMessage",),
    "openim.group.KickGroupMemberReq": ("sendMessage",),
    "openim.group.InviteUserToGroupReq": ("sendMessage",),
    "openim.group.DismissGroupReq": ("sendMessage",),
    "openim.group.GetGroupApplicationListReq": ("groupIDs", "handleResults"),
    "openim.group.GetUserReqApplicationListReq": ("groupIDs", "handleResults"),
    "openim.msg.GetConversationsHasReadAndMaxSeqReq": ("returnPinned",),
    "openim.relation.getPaginationFriendsApplyToReq": ("handleResults",),
    "openim.relation.getPaginationFriendsApplyFromReq": ("handleResults",),
    "openim.user.searchNotificationAccountReq": ("appManagerLevel",),
}

# message -> fields a v3.8.3 server never sends.
OLDER_SERVER_RESPONSES: dict[str, tuple[str, ...]] = {
    "openim.msg.SendMsgResp": ("modify",),
    "openim.msg.GetConversationsHasReadAndMaxSeqResp": ("pinnedConversationIDs",),
}
