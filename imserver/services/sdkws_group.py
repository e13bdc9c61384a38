"""openim.sdkws group shapes and group notification tips (openim-v3.md 3.3, 3.4).

Same rules as imserver/services/sdkws.py: fields in .proto order, every field
present, nil messages and nil repeated fields `null` (openimsdk/protocol
sdkws/sdkws.proto at v0.0.73-alpha.12).
"""

from __future__ import annotations

from core.protocol.sdkws import GroupInfo, GroupMemberFullInfo, GroupRequest, PublicUserInfo, WireModel

__all__ = [
    "GroupApplicationAcceptedTips",
    "GroupApplicationRejectedTips",
    "GroupCancelMutedTips",
    "GroupCreatedTips",
    "GroupDismissedTips",
    "GroupInfo",
    "GroupInfoSetAnnouncementTips",
    "GroupInfoSetNameTips",
    "GroupInfoSetTips",
    "GroupMemberCancelMutedTips",
    "GroupMemberFullInfo",
    "GroupMemberInfoSetTips",
    "GroupMemberMutedTips",
    "GroupMutedTips",
    "GroupOwnerTransferredTips",
    "GroupRequest",
    "JoinGroupApplicationTips",
    "MemberEnterTips",
    "MemberInvitedTips",
    "MemberKickedTips",
    "MemberQuitTips",
]


class GroupCreatedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    memberList: list[GroupMemberFullInfo] | None = None
    operationTime: int = 0
    groupOwnerUser: GroupMemberFullInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupInfoSetTips(WireModel):
    opUser: GroupMemberFullInfo | None = None
    muteTime: int = 0
    group: GroupInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupInfoSetNameTips(WireModel):
    opUser: GroupMemberFullInfo | None = None
    group: GroupInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupInfoSetAnnouncementTips(WireModel):
    opUser: GroupMemberFullInfo | None = None
    group: GroupInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class JoinGroupApplicationTips(WireModel):
    group: GroupInfo | None = None
    applicant: PublicUserInfo | None = None
    reqMsg: str = ""
    uuid: str = ""
    request: GroupRequest | None = None


class MemberQuitTips(WireModel):
    group: GroupInfo | None = None
    quitUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupApplicationAcceptedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    handleMsg: str = ""
    receiverAs: int = 0
    uuid: str = ""
    request: GroupRequest | None = None


class GroupApplicationRejectedTips(GroupApplicationAcceptedTips):
    pass


class GroupOwnerTransferredTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    newGroupOwner: GroupMemberFullInfo | None = None
    oldGroupOwner: str = ""
    operationTime: int = 0
    oldGroupOwnerInfo: GroupMemberFullInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class MemberKickedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    kickedUserList: list[GroupMemberFullInfo] | None = None
    operationTime: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class MemberInvitedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    invitedUserList: list[GroupMemberFullInfo] | None = None
    operationTime: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""
    inviterUser: GroupMemberFullInfo | None = None


class MemberEnterTips(WireModel):
    group: GroupInfo | None = None
    entrantUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupDismissedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    operationTime: int = 0


class GroupMemberMutedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    mutedUser: GroupMemberFullInfo | None = None
    mutedSeconds: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupMemberCancelMutedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    mutedUser: GroupMemberFullInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupMutedTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""


class GroupCancelMutedTips(GroupMutedTips):
    pass


class GroupMemberInfoSetTips(WireModel):
    group: GroupInfo | None = None
    opUser: GroupMemberFullInfo | None = None
    operationTime: int = 0
    changedUser: GroupMemberFullInfo | None = None
    groupMemberVersion: int = 0
    groupMemberVersionID: str = ""
    groupSortVersion: int = 0
