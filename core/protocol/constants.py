"""OpenIM v3.8 constants shared by core/ and imserver/.

Values from openimsdk/protocol constant/constant.go and openimsdk/openim-sdk-core
pkg/constant/constant.go (shared/reference/openim-v3.md section 4).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ADMIN_PLATFORM_ID",
    "PLATFORM_NAMES",
    "ContentType",
    "HandleResult",
    "LoginStatus",
    "MsgFrom",
    "ReqIdentifier",
    "SessionType",
    "TokenState",
    "notification_conversation_id",
    "single_conversation_id",
]


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
    TYPING = 113
    QUOTE = 114
    FACE = 115
    ADVANCED_TEXT = 117

    NOTIFICATION_BEGIN = 1000
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
    CONVERSATION_CHANGE = 1300
    USER_INFO_UPDATED = 1303
    USER_STATUS_CHANGE = 1304
    USER_COMMAND_ADD = 1305
    USER_COMMAND_DELETE = 1306
    USER_COMMAND_UPDATE = 1307
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


class MsgFrom(IntEnum):
    USER = 100
    SYSTEM = 200


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


ADMIN_PLATFORM_ID = 10

PLATFORM_NAMES: dict[int, str] = {
    1: "IOS",
    2: "Android",
    3: "Windows",
    4: "OSX",
    5: "Web",
    6: "MiniWeb",
    7: "Linux",
    8: "APad",
    9: "IPad",
    10: "Admin",
    11: "HarmonyOS",
}


def single_conversation_id(a: str, b: str) -> str:
    """`si_<A>_<B>` with the two IDs sorted byte-wise (openim-v3.md 4.5)."""
    x, y = sorted((a, b))
    return f"si_{x}_{y}"


def notification_conversation_id(conversation_id: str) -> str:
    """The `n_` conversation that holds notifications of a chat conversation."""
    _, _, rest = conversation_id.partition("_")
    return f"n_{rest}"
