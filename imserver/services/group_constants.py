"""Group constants of OpenIM v3.8 (openimsdk/protocol constant/constant.go; openim-v3.md 4.2, 4.3).

They belong with the shared wire constants in core/protocol/constants.py;
they live here until that module (owned by the core/ work) carries them, and
should then be imported from there instead.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AT_ALL_TAG",
    "MEMBER_FILTER_ROLES",
    "WORKING_GROUP",
    "GroupAtType",
    "GroupContentType",
    "GroupStatus",
    "JoinSource",
    "MemberFilter",
    "NeedVerification",
    "RoleLevel",
]

# constant.AtAllString: the atUserIDList entry that mentions everyone.
AT_ALL_TAG = "AtAllTag"
# constant.WorkingGroup: the only group type CreateGroup accepts.
WORKING_GROUP = 2


class RoleLevel(IntEnum):
    OWNER = 100
    ADMIN = 60
    ORDINARY = 20


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
