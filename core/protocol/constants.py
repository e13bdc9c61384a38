"""OpenIM v3.8 wire constants: the one home core/, bridge/ and imserver/ import them from.

Values from openimsdk/protocol constant/constant.go and constant/limit.go at
v0.0.73-alpha.12 (the version open-im-server v3.8.3 and openim-sdk-core v3.8.3
pin), and openimsdk/openim-sdk-core pkg/constant/constant.go for the SDK-only
ones (shared/reference/openim-v3.md section 4). Each name says which Go constant
it is where the two differ. tests/bridge/test_structure.py checks that no other
module writes these values out again.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ADMIN_PLATFORM_ID",
    "AT_ALL_TAG",
    "MEMBER_FILTER_ROLES",
    "PARAM_MAX_LENGTH",
    "PLATFORM_NAMES",
    "WORKING_GROUP",
    "AddSource",
    "AppManagerLevel",
    "ContentType",
    "GroupAtType",
    "GroupContentType",
    "GroupStatus",
    "HandleResult",
    "JoinSource",
    "LoginStatus",
    "MemberFilter",
    "MsgFrom",
    "MsgStatus",
    "NeedVerification",
    "NotificationReliability",
    "OnlineState",
    "PlatformID",
    "RecvMsgOpt",
    "ReqIdentifier",
    "RoleLevel",
    "SessionType",
    "TokenState",
    "notification_conversation_id",
    "single_conversation_id",
]

# constant.ParamMaxLength (limit.go): the most IDs one API request may carry.
PARAM_MAX_LENGTH = 1000


class ReqIdentifier(IntEnum):
    """Message-gateway operation codes (openim-v3.md 2.5)."""

    GET_NEWEST_SEQ = 1001
    PULL_MSG_BY_RANGE = 1002
    SEND_MSG = 1003
    SEND_SIGNAL_MSG = 1004
    PULL_MSG_BY_SEQ_LIST = 1005
    GET_CONV_MAX_READ_SEQ = 1006
    PULL_CONV_LAST_MESSAGE = 1007
    PUSH_MSG = 2001
    KICK_ONLINE_MSG = 2002
    LOGOUT_MSG = 2003
    SET_BACKGROUND_STATUS = 2004
    SUB_USER_ONLINE_STATUS = 2005


class ContentType(IntEnum):
    TEXT = 101
    PICTURE = 102
    VOICE = 103
    VIDEO = 104
    FILE = 105
    AT_TEXT = 106
    MERGER = 107
    CARD = 108
    LOCATION = 109
    CUSTOM = 110
    REVOKE = 111  # constant.Revoke: legacy, before MsgRevokeNotification
    TYPING = 113
    QUOTE = 114
    FACE = 115
    ADVANCED_TEXT = 117

    NOTIFICATION_BEGIN = 1000
    FRIEND_NOTIFICATION_BEGIN = 1200  # SDK pkg/constant only
    FRIEND_APPLICATION_APPROVED = 1201
    FRIEND_APPLICATION_REJECTED = 1202
    FRIEND_APPLICATION = 1203
    FRIEND_ADDED = 1204
    FRIEND_DELETED = 1205
    FRIEND_REMARK_SET = 1206
    BLACK_ADDED = 1207
    BLACK_DELETED = 1208
    FRIEND_INFO_UPDATED = 1209
    FRIENDS_INFO_UPDATE = 1210
    FRIEND_NOTIFICATION_END = 1299  # SDK pkg/constant only
    CONVERSATION_CHANGE = 1300
    USER_INFO_UPDATED = 1303
    USER_STATUS_CHANGE = 1304
    USER_COMMAND_ADD = 1305
    USER_COMMAND_DELETE = 1306
    USER_COMMAND_UPDATE = 1307
    OA_NOTIFICATION = 1400
    GROUP_NOTIFICATION_BEGIN = 1500  # the group types 1501..1520 are GroupContentType
    GROUP_NOTIFICATION_END = 1599  # SDK pkg/constant only
    CONVERSATION_PRIVATE_CHAT = 1701
    CONVERSATION_UNREAD = 1702
    CLEAR_CONVERSATION = 1703
    BUSINESS = 2001
    MSG_REVOKE = 2101
    DELETE_MSGS = 2102
    HAS_READ_RECEIPT = 2200
    NOTIFICATION_END = 5000


class SessionType(IntEnum):
    SINGLE = 1
    WRITE_GROUP = 2
    READ_GROUP = 3
    NOTIFICATION = 4


class GroupContentType(IntEnum):
    """Group notification content types 1501..1520 (openim-v3.md 4.2)."""

    GROUP_CREATED = 1501
    GROUP_INFO_SET = 1502
    JOIN_GROUP_APPLICATION = 1503
    MEMBER_QUIT = 1504
    GROUP_APPLICATION_ACCEPTED = 1505
    GROUP_APPLICATION_REJECTED = 1506
    GROUP_OWNER_TRANSFERRED = 1507
    MEMBER_KICKED = 1508
    MEMBER_INVITED = 1509
    MEMBER_ENTER = 1510
    GROUP_DISMISSED = 1511
    GROUP_MEMBER_MUTED = 1512
    GROUP_MEMBER_CANCEL_MUTED = 1513
    GROUP_MUTED = 1514
    GROUP_CANCEL_MUTED = 1515
    GROUP_MEMBER_INFO_SET = 1516
    GROUP_MEMBER_SET_TO_ADMIN = 1517
    GROUP_MEMBER_SET_TO_ORDINARY = 1518
    GROUP_INFO_SET_ANNOUNCEMENT = 1519
    GROUP_INFO_SET_NAME = 1520


class MsgFrom(IntEnum):
    USER = 100  # constant.UserMsgType
    SYSTEM = 200  # constant.SysMsgType


class MsgStatus(IntEnum):
    """MsgData.status (constant.MsgStatusSending ... MsgStatusFiltered)."""

    SENDING = 1
    SEND_SUCCESS = 2
    SEND_FAILED = 3
    HAS_DELETED = 4  # also a pulled seq whose message is gone (constant.MsgDeleted)
    FILTERED = 5


class NotificationReliability(IntEnum):
    UNRELIABLE = 1  # online only, never stored
    RELIABLE_NO_MSG = 2  # stored in the n_ conversation
    RELIABLE_MSG = 3


class OnlineState(IntEnum):
    """constant.Offline / constant.Online (user.OnlineStatus.status)."""

    OFFLINE = 0
    ONLINE = 1


class RecvMsgOpt(IntEnum):
    RECEIVE = 0
    NOT_RECEIVE = 1
    RECEIVE_NOT_NOTIFY = 2


class AppManagerLevel(IntEnum):
    """UserInfo.appMangerLevel."""

    IM_ORDINARY_USER = 0
    APP_ORDINARY_USERS = 1
    APP_ADMIN = 2
    APP_NOTIFICATION_ADMIN = 3
    APP_ROBOT_ADMIN = 4


class AddSource(IntEnum):
    """FriendInfo.addSource (constant.BecomeFriendByImport / BecomeFriendByApply)."""

    BY_IMPORT = 1
    BY_APPLY = 2


# constant.AtAllString: the atUserIDList entry that mentions everyone.
AT_ALL_TAG = "AtAllTag"
# constant.WorkingGroup: the only group type CreateGroup accepts.
WORKING_GROUP = 2


class RoleLevel(IntEnum):
    OWNER = 100  # constant.GroupOwner
    ADMIN = 60  # constant.GroupAdmin
    ORDINARY = 20  # constant.GroupOrdinaryUsers


class GroupStatus(IntEnum):
    OK = 0
    BAN_CHAT = 1
    DISMISSED = 2
    MUTED = 3


class NeedVerification(IntEnum):
    """ApplyNeedVerificationInviteDirectly / AllNeedVerification / Directly."""

    APPLY_NEED_INVITE_DIRECTLY = 0
    ALL_NEED = 1
    DIRECTLY = 2


class JoinSource(IntEnum):
    BY_ADMIN = 1
    BY_INVITATION = 2
    BY_SEARCH = 3
    BY_QR_CODE = 4


class MemberFilter(IntEnum):
    """GetGroupMemberListReq.filter (openim-v3.md 4.3 "Member list filter")."""

    ALL = 0
    OWNER = 1
    ADMIN = 2
    ORDINARY = 3
    ADMIN_AND_ORDINARY = 4
    OWNER_AND_ADMIN = 5


# The roles each filter keeps; () keeps every member.
MEMBER_FILTER_ROLES: dict[int, tuple[int, ...]] = {
    MemberFilter.ALL: (),
    MemberFilter.OWNER: (RoleLevel.OWNER,),
    MemberFilter.ADMIN: (RoleLevel.ADMIN,),
    MemberFilter.ORDINARY: (RoleLevel.ORDINARY,),
    MemberFilter.ADMIN_AND_ORDINARY: (RoleLevel.ADMIN, RoleLevel.ORDINARY),
    MemberFilter.OWNER_AND_ADMIN: (RoleLevel.OWNER, RoleLevel.ADMIN),
}


class GroupAtType(IntEnum):
    NORMAL = 0
    AT_ME = 1
    AT_ALL = 2
    AT_ALL_AT_ME = 3
    GROUP_NOTIFICATION = 4


class HandleResult(IntEnum):
    """Friend/group request state."""

    REFUSE = -1
    UNHANDLED = 0
    AGREE = 1


class LoginStatus(IntEnum):
    """GetLoginStatus values of the v3.8 SDK (openim-v3.md 4.7)."""

    UNINITIALIZED = -1001
    LOGOUT = 1
    LOGGING = 2
    LOGGED = 3


class TokenState(IntEnum):
    NORMAL = 0
    INVALID = 1
    KICKED = 2
    EXPIRED = 3


class PlatformID(IntEnum):
    """constant.IOSPlatformID ... HarmonyOSPlatformID (platform_id_to_name.go)."""

    IOS = 1
    ANDROID = 2
    WINDOWS = 3
    OSX = 4
    WEB = 5
    MINI_WEB = 6
    LINUX = 7
    ANDROID_PAD = 8
    IPAD = 9
    ADMIN = 10
    HARMONY_OS = 11


ADMIN_PLATFORM_ID = PlatformID.ADMIN

PLATFORM_NAMES: dict[int, str] = {
    PlatformID.IOS: "IOS",
    PlatformID.ANDROID: "Android",
    PlatformID.WINDOWS: "Windows",
    PlatformID.OSX: "OSX",
    PlatformID.WEB: "Web",
    PlatformID.MINI_WEB: "MiniWeb",
    PlatformID.LINUX: "Linux",
    PlatformID.ANDROID_PAD: "APad",
    PlatformID.IPAD: "IPad",
    PlatformID.ADMIN: "Admin",
    PlatformID.HARMONY_OS: "HarmonyOS",
}


def single_conversation_id(a: str, b: str) -> str:
    """`si_<A>_<B>` with the two IDs sorted byte-wise (openim-v3.md 4.5)."""
    x, y = sorted((a, b))
    return f"si_{x}_{y}"


def notification_conversation_id(conversation_id: str) -> str:
    """The `n_` conversation that holds notifications of a chat conversation."""
    _, _, rest = conversation_id.partition("_")
    return f"n_{rest}"
