"""Which protobuf message the real server decodes each request into.

HTTP: open-im-server v3.8.3 internal/api/router.go maps each POST route to a
handler in internal/api/{user,friend,group,auth,msg,conversation,third}.go; almost
all are `a2r.Call(c, <service>Client.<Method>, ...)`, which decodes the body with
encoding/json into the RPC's request message (openimsdk/tools a2r/api2rpc.go) and
answers the RPC's response message as the envelope's `data`. So a route names a
method here and the descriptor pool gives both messages.

Routes whose handler binds something else (apistruct, msggateway messages or
jssdk's own) are listed in CUSTOM: core must not call them, since the check
could not tell a wrong key there.

Gateway: internal/msggateway/client.go handleMessage + message_handler.go
(`proto.Unmarshal(data.Data, &<message>)`) and constant.go for the identifiers.
"""

from __future__ import annotations

__all__ = ["CUSTOM", "GATEWAY", "GATEWAY_RESPONSES", "ROUTES", "TIPS"]

# route -> "<proto package tail>.<service>/<Method>" (service and method as in the .proto,
# matched ignoring the case of the first letter, as Go capitalises it).
ROUTES: dict[str, str] = {
    # userRouterGroup (internal/api/user.go)
    "/user/user_register": "user.user/UserRegister",
    "/user/update_user_info": "user.user/UpdateUserInfo",
    "/user/update_user_info_ex": "user.user/UpdateUserInfoEx",
    "/user/set_global_msg_recv_opt": "user.user/SetGlobalRecvMessageOpt",
    "/user/get_users_info": "user.user/GetDesignateUsers",
    "/user/get_all_users_uid": "user.user/GetAllUserID",
    "/user/account_check": "user.user/AccountCheck",
    "/user/get_users": "user.user/GetPaginationUsers",
    "/user/subscribe_users_status": "user.user/SubscribeOrCancelUsersStatus",
    "/user/get_users_status": "user.user/GetUserStatus",
    "/user/get_subscribe_users_status": "user.user/GetSubscribeUsersStatus",
    "/user/process_user_command_add": "user.user/ProcessUserCommandAdd",
    "/user/process_user_command_delete": "user.user/ProcessUserCommandDelete",
    "/user/process_user_command_update": "user.user/ProcessUserCommandUpdate",
    "/user/process_user_command_get": "user.user/ProcessUserCommandGet",
    "/user/process_user_command_get_all": "user.user/ProcessUserCommandGetAll",
    "/user/add_notification_account": "user.user/AddNotificationAccount",
    "/user/update_notification_account": "user.user/UpdateNotificationAccountInfo",
    "/user/search_notification_account": "user.user/SearchNotificationAccount",
    # friendRouterGroup (internal/api/friend.go)
    "/friend/delete_friend": "relation.friend/DeleteFriend",
    "/friend/get_friend_apply_list": "relation.friend/GetPaginationFriendsApplyTo",
    "/friend/get_designated_friend_apply": "relation.friend/GetDesignatedFriendsApply",
    "/friend/get_self_friend_apply_list": "relation.friend/GetPaginationFriendsApplyFrom",
    "/friend/get_friend_list": "relation.friend/GetPaginationFriends",
    "/friend/get_designated_friends": "relation.friend/GetDesignatedFriends",
    "/friend/add_friend": "relation.friend/ApplyToAddFriend",
    "/friend/add_friend_response": "relation.friend/RespondFriendApply",
    "/friend/set_friend_remark": "relation.friend/SetFriendRemark",
    "/friend/add_black": "relation.friend/AddBlack",
    "/friend/get_black_list": "relation.friend/GetPaginationBlacks",
    "/friend/get_specified_blacks": "relation.friend/GetSpecifiedBlacks",
    "/friend/remove_black": "relation.friend/RemoveBlack",
    "/friend/get_incremental_blacks": "relation.friend/GetIncrementalBlacks",
    "/friend/import_friend": "relation.friend/ImportFriends",
    "/friend/is_friend": "relation.friend/IsFriend",
    "/friend/get_friend_id": "relation.friend/GetFriendIDs",
    "/friend/get_specified_friends_info": "relation.friend/GetSpecifiedFriendsInfo",
    "/friend/update_friends": "relation.friend/UpdateFriends",
    "/friend/get_incremental_friends": "relation.friend/GetIncrementalFriends",
    "/friend/get_full_friend_user_ids": "relation.friend/GetFullFriendUserIDs",
    # groupRouterGroup (internal/api/group.go)
    "/group/create_group": "group.group/CreateGroup",
    "/group/set_group_info": "group.group/SetGroupInfo",
    "/group/set_group_info_ex": "group.group/SetGroupInfoEx",
    "/group/join_group": "group.group/JoinGroup",
    "/group/quit_group": "group.group/QuitGroup",
    "/group/group_application_response": "group.group/GroupApplicationResponse",
    "/group/transfer_group": "group.group/TransferGroupOwner",
    "/group/get_recv_group_applicationList": "group.group/GetGroupApplicationList",
    "/group/get_user_req_group_applicationList": "group.group/GetUserReqApplicationList",
    "/group/get_group_users_req_application_list": "group.group/GetGroupUsersReqApplicationList",
    "/group/get_specified_user_group_request_info": "group.group/GetSpecifiedUserGroupRequestInfo",
    "/group/get_groups_info": "group.group/GetGroupsInfo",
    "/group/kick_group": "group.group/KickGroupMember",
    "/group/get_group_members_info": "group.group/GetGroupMembersInfo",
    "/group/get_group_member_list": "group.group/GetGroupMemberList",
    "/group/invite_user_to_group": "group.group/InviteUserToGroup",
    "/group/get_joined_group_list": "group.group/GetJoinedGroupList",
    "/group/dismiss_group": "group.group/DismissGroup",
    "/group/mute_group_member": "group.group/MuteGroupMember",
    "/group/cancel_mute_group_member": "group.group/CancelMuteGroupMember",
    "/group/mute_group": "group.group/MuteGroup",
    "/group/cancel_mute_group": "group.group/CancelMuteGroup",
    "/group/set_group_member_info": "group.group/SetGroupMemberInfo",
    "/group/get_group_abstract_info": "group.group/GetGroupAbstractInfo",
    "/group/get_groups": "group.group/GetGroups",
    "/group/get_group_member_user_id": "group.group/GetGroupMemberUserIDs",
    "/group/get_incremental_join_groups": "group.group/GetIncrementalJoinGroup",
    "/group/get_incremental_group_members": "group.group/GetIncrementalGroupMember",
    "/group/get_incremental_group_members_batch": "group.group/BatchGetIncrementalGroupMember",
    "/group/get_full_group_member_user_ids": "group.group/GetFullGroupMemberUserIDs",
    "/group/get_full_join_group_ids": "group.group/GetFullJoinGroupIDs",
    # authRouterGroup (internal/api/auth.go)
    "/auth/get_admin_token": "auth.Auth/GetAdminToken",
    "/auth/get_user_token": "auth.Auth/GetUserToken",
    "/auth/parse_token": "auth.Auth/ParseToken",
    "/auth/force_logout": "auth.Auth/ForceLogout",
    # thirdGroup, objectGroup (internal/api/third.go)
    "/third/fcm_update_token": "third.third/FcmUpdateToken",
    "/third/set_app_badge": "third.third/SetAppBadge",
    "/third/logs/upload": "third.third/UploadLogs",
    "/third/logs/delete": "third.third/DeleteLogs",
    "/third/logs/search": "third.third/SearchLogs",
    "/object/part_limit": "third.third/PartLimit",
    "/object/part_size": "third.third/PartSize",
    "/object/initiate_multipart_upload": "third.third/InitiateMultipartUpload",
    "/object/auth_sign": "third.third/AuthSign",
    "/object/complete_multipart_upload": "third.third/CompleteMultipartUpload",
    "/object/access_url": "third.third/AccessURL",
    "/object/initiate_form_data": "third.third/InitiateFormData",
    "/object/complete_form_data": "third.third/CompleteFormData",
    # msgGroup (internal/api/msg.go)
    "/msg/newest_seq": "msg.msg/GetMaxSeq",
    "/msg/search_msg": "msg.msg/SearchMessage",
    "/msg/pull_msg_by_seq": "msg.msg/PullMessageBySeqs",
    "/msg/revoke_msg": "msg.msg/RevokeMsg",
    "/msg/mark_msgs_as_read": "msg.msg/MarkMsgsAsRead",
    "/msg/mark_conversation_as_read": "msg.msg/MarkConversationAsRead",
    "/msg/get_conversations_has_read_and_max_seq": "msg.msg/GetConversationsHasReadAndMaxSeq",
    "/msg/set_conversation_has_read_seq": "msg.msg/SetConversationHasReadSeq",
    "/msg/clear_conversation_msg": "msg.msg/ClearConversationsMsg",
    "/msg/user_clear_all_msg": "msg.msg/UserClearAllMsg",
    "/msg/delete_msgs": "msg.msg/DeleteMsgs",
    "/msg/delete_msg_phsical_by_seq": "msg.msg/DeleteMsgPhysicalBySeq",
    "/msg/delete_msg_physical": "msg.msg/DeleteMsgPhysical",
    "/msg/check_msg_is_send_success": "msg.msg/GetSendMsgStatus",
    "/msg/get_server_time": "msg.msg/GetServerTime",
    # conversationGroup (internal/api/conversation.go)
    "/conversation/get_sorted_conversation_list": "conversation.conversation/GetSortedConversationList",
    "/conversation/get_all_conversations": "conversation.conversation/GetAllConversations",
    "/conversation/get_conversation": "conversation.conversation/GetConversation",
    "/conversation/get_conversations": "conversation.conversation/GetConversations",
    "/conversation/set_conversations": "conversation.conversation/SetConversations",
    "/conversation/get_conversation_offline_push_user_ids": (
        "conversation.conversation/GetConversationOfflinePushUserIDs"
    ),
    "/conversation/get_full_conversation_ids": "conversation.conversation/GetFullOwnerConversationIDs",
    "/conversation/get_incremental_conversations": "conversation.conversation/GetIncrementalConversation",
    "/conversation/get_owner_conversation": "conversation.conversation/GetOwnerConversation",
    "/conversation/get_not_notify_conversation_ids": "conversation.conversation/GetNotNotifyConversationIDs",
    "/conversation/get_pinned_conversation_ids": "conversation.conversation/GetPinnedConversationIDs",
    # statisticsGroup
    "/statistics/user/register": "user.user/UserRegisterCount",
    "/statistics/user/active": "msg.msg/GetActiveUser",
    "/statistics/group/create": "group.group/GroupCreateCount",
    "/statistics/group/active": "msg.msg/GetActiveGroup",
}

# Routes of router.go whose handler does not decode an RPC request message.
CUSTOM: dict[str, str] = {
    "/user/get_users_online_status": "msggateway.GetUsersOnlineStatusReq, fanned out to every gateway",
    "/user/get_users_online_token_detail": "msggateway.GetUsersOnlineStatusReq, fanned out to every gateway",
    "/msg/send_msg": "apistruct.SendMsgReq (app managers only)",
    "/msg/send_business_notification": "apistruct.SendBusinessNotificationReq (app managers only)",
    "/msg/batch_send_msg": "apistruct.BatchSendMsgReq (app managers only)",
    "/jssdk/get_conversations": "jssdk.GetConversationsReq (not in the wasm's descriptors)",
    "/jssdk/get_active_conversations": "jssdk.GetActiveConversationsReq (not in the wasm's descriptors)",
}

# reqIdentifier -> request message the gateway unmarshals `data` into.
GATEWAY: dict[int, str] = {
    1001: "openim.sdkws.GetMaxSeqReq",  # WSGetNewestSeq -> GetSeq
    1002: "openim.sdkws.PullMessageBySeqsReq",  # WSPullMsgBySeqList
    1003: "openim.sdkws.MsgData",  # WSSendMsg -> SendMessage
    1005: "openim.msg.GetSeqMessageReq",  # WSPullMsg -> GetSeqMessage
    1006: "openim.msg.GetConversationsHasReadAndMaxSeqReq",  # WSGetConvMaxReadSeq
    1007: "openim.msg.GetLastMessageReq",  # WsPullConvLastMessage
    2003: "openim.push.DelUserPushTokenReq",  # WsLogoutMsg -> UserLogout
    2004: "openim.sdkws.SetAppBackgroundStatusReq",  # WsSetBackgroundStatus
    2005: "openim.sdkws.SubUserOnlineStatus",  # WsSubUserOnlineStatus (subscription.go)
}

# reqIdentifier -> the message its answer's `data` holds (the RPC's response).
GATEWAY_RESPONSES: dict[int, str] = {
    1001: "openim.sdkws.GetMaxSeqResp",
    1002: "openim.sdkws.PullMessageBySeqsResp",
    1003: "openim.msg.SendMsgResp",
    1005: "openim.msg.GetSeqMessageResp",
    1006: "openim.msg.GetConversationsHasReadAndMaxSeqResp",
    1007: "openim.msg.GetLastMessageResp",
    2003: "openim.push.DelUserPushTokenResp",
}

# Notification contentType -> the sdkws tips message whose JSON is the content's `detail`
# (open-im-server pkg/notification/msg.go: encoding/json of the tips struct, so proto
# field names). Senders: internal/rpc/{relation,user,group,conversation,msg}/notification.go.
TIPS: dict[int, str] = {
    1201: "FriendApplicationApprovedTips",
    1202: "FriendApplicationRejectedTips",
    1203: "FriendApplicationTips",
    1204: "FriendAddedTips",
    1205: "FriendDeletedTips",
    1206: "FriendInfoChangedTips",
    1207: "BlackAddedTips",
    1208: "BlackDeletedTips",
    1209: "UserInfoUpdatedTips",
    1210: "FriendsInfoUpdateTips",
    1300: "ConversationUpdateTips",
    1303: "UserInfoUpdatedTips",
    1304: "UserStatusChangeTips",
    1305: "UserCommandAddTips",
    1306: "UserCommandDeleteTips",
    1307: "UserCommandUpdateTips",
    1501: "GroupCreatedTips",
    1502: "GroupInfoSetTips",
    1503: "JoinGroupApplicationTips",
    1504: "MemberQuitTips",
    1505: "GroupApplicationAcceptedTips",
    1506: "GroupApplicationRejectedTips",
    1507: "GroupOwnerTransferredTips",
    1508: "MemberKickedTips",
    1509: "MemberInvitedTips",
    1510: "MemberEnterTips",
    1511: "GroupDismissedTips",
    1512: "GroupMemberMutedTips",
    1513: "GroupMemberCancelMutedTips",
    1514: "GroupMutedTips",
    1515: "GroupCancelMutedTips",
    1516: "GroupMemberInfoSetTips",
    1517: "GroupMemberInfoSetTips",
    1518: "GroupMemberInfoSetTips",
    1519: "GroupInfoSetAnnouncementTips",
    1520: "GroupInfoSetNameTips",
    1701: "ConversationSetPrivateTips",
    1702: "ConversationHasReadTips",
    1703: "ClearConversationTips",
    2101: "RevokeMsgTips",
    2102: "DeleteMsgsTips",
    2200: "MarkAsReadTips",
}
