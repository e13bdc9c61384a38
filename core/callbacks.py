"""Every listener callback of OpenIM SDK v3.8 (open_im_sdk_callback/callback_client.go) and
when the bridge's core fires it. The README's callback table is generated from this list
(tests/support/readme_tables.py) and tests/test_readme_tables.py keeps both in step.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CALLBACKS", "EXTRA_CALLBACKS", "Callback"]


@dataclass(frozen=True, slots=True)
class Callback:
    listener: str  # the event's `listener` field
    name: str
    when: str


_C, _G, _F, _V, _A, _U = (
    "OnConnListener",
    "OnGroupListener",
    "OnFriendshipListener",
    "OnConversationListener",
    "OnAdvancedMsgListener",
    "OnUserListener",
)

CALLBACKS: tuple[Callback, ...] = (
    Callback(_C, "OnConnecting", "the core dials the message gateway"),
    Callback(_C, "OnConnectSuccess", "the gateway handshake succeeded (then a seq sync)"),
    Callback(_C, "OnConnectFailed", "a dial or the gateway failed; the core redials"),
    Callback(_C, "OnKickedOffline", "another login of this user and platform, or force_logout; ends the session"),
    Callback(_C, "OnUserTokenExpired", "the OpenIM token expired; ends the session"),
    Callback(_C, "OnUserTokenInvalid", "the OpenIM token was refused; ends the session"),
    Callback(_G, "OnJoinedGroupAdded", "the user joined or was added to a group"),
    Callback(_G, "OnJoinedGroupDeleted", "the user left, was kicked, or the group was dismissed"),
    Callback(_G, "OnGroupMemberAdded", "someone joined a group of the user"),
    Callback(_G, "OnGroupMemberDeleted", "someone left a group of the user"),
    Callback(_G, "OnGroupApplicationAdded", "a join application to or from the user"),
    Callback(_G, "OnGroupApplicationDeleted", "a join application went away"),
    Callback(_G, "OnGroupInfoChanged", "a group's profile, owner or mute state changed"),
    Callback(_G, "OnGroupDismissed", "a group of the user was dismissed"),
    Callback(_G, "OnGroupMemberInfoChanged", "a member's nickname, role or mute changed"),
    Callback(_G, "OnGroupApplicationAccepted", "a join application was accepted"),
    Callback(_G, "OnGroupApplicationRejected", "a join application was refused"),
    Callback(_F, "OnFriendApplicationAdded", "a friend application to or from the user"),
    Callback(_F, "OnFriendApplicationDeleted", "a friend application went away"),
    Callback(_F, "OnFriendApplicationAccepted", "a friend application was accepted"),
    Callback(_F, "OnFriendApplicationRejected", "a friend application was refused"),
    Callback(_F, "OnFriendAdded", "a new friend"),
    Callback(_F, "OnFriendDeleted", "a friend removed"),
    Callback(_F, "OnFriendInfoChanged", "a friend's profile, remark, pin or ex changed (UpdateFriends)"),
    Callback(_F, "OnBlackAdded", "a user blacklisted"),
    Callback(_F, "OnBlackDeleted", "a user taken off the blacklist"),
    Callback(_V, "OnSyncServerStart", "a sync with the server begins (data: reinstalled = no checkpoint yet)"),
    Callback(_V, "OnSyncServerFinish", "that sync ended"),
    Callback(_V, "OnSyncServerProgress", "1..100 during the first sync of a session (reinstalled), as the SDK"),
    Callback(_V, "OnSyncServerFailed", "that sync failed"),
    Callback(_V, "OnNewConversation", "conversations that appeared (list)"),
    Callback(_V, "OnConversationChanged", "conversations whose fields or latest message changed (list)"),
    Callback(_V, "OnTotalUnreadMessageCountChanged", "the unread total over notifying conversations changed"),
    Callback(_V, "OnConversationUserInputStatusChanged", "a peer starts or stops typing (ChangeInputStates)"),
    Callback(_A, "OnRecvNewMessage", "a new message (unless logged in with batchMessages)"),
    Callback(_A, "OnRecvC2CReadReceipt", "a one-to-one peer read the user's messages"),
    Callback(_A, "OnNewRecvMessageRevoked", "a message was revoked"),
    Callback(_A, "OnRecvOfflineNewMessage", "also, for a new message while SetAppBackgroundStatus(true)"),
    Callback(_A, "OnMsgDeleted", "DeleteMessage / DeleteMessageFromLocalStorage removed a message"),
    Callback(_A, "OnRecvOnlineOnlyMessage", "an online-only message (typing, isOnlineOnly sends)"),
    Callback(_A, "OnRecvNewMessages", "new messages as one list (batchMessages, and always over /ws)"),
    Callback(_A, "OnRecvOfflineNewMessages", "the background variant of OnRecvNewMessages"),
    Callback(_U, "OnSelfInfoUpdated", "the user's own profile changed"),
    Callback(_U, "OnUserStatusChanged", "a subscribed user's online platforms changed (SubscribeUsersStatus)"),
    Callback(_U, "OnUserCommandAdd", "a user command was added (on every device of the user)"),
    Callback(_U, "OnUserCommandDelete", "a user command was deleted"),
    Callback(_U, "OnUserCommandUpdate", "a user command changed"),
    Callback("OnCustomBusinessListener", "OnRecvCustomBusinessMessage", "a business notification (2001) for the user"),
    Callback(
        "OnMessageKvInfoListener",
        "OnMessageKvInfoChanged",
        "never: v3.8 declares it, but neither openim-sdk-core 3.8.3 nor OpenIM 3.8 has message key/values",
    ),
)

#: Events the bridge adds for calls: not SDK listener callbacks.
EXTRA_CALLBACKS: tuple[Callback, ...] = (
    Callback("UploadFileCallback", "OnProgress", "bytes stored during UploadFile (the call's operationID)"),
)
