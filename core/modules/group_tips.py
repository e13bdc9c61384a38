"""Whom a group notification's tips name as joining or leaving (pure; issue 13).

The server's version log keeps only the latest change per group
(open-im-server pkg/common/storage/database/mgo/version_log.go, one entry per
eID), so a group joined and left between two joined-group syncs is answered as
a delete alone, and a diff of the local list sees nothing. A core that handles
the join notification only after the kick (a busy core's pushes wait in its
inbox) needs the tips to know that it was in the group at all.

Tips fields per open-im-server pkg/rpcclient/notification/group.go (sdkws
GroupCreatedTips, MemberInvitedTips, MemberEnterTips, MemberQuitTips,
MemberKickedTips, GroupDismissedTips).
"""

from __future__ import annotations

from typing import Any

from core.protocol.constants import GroupContentType as G
from core.untrusted import text

__all__ = ["joins_me", "removes_me"]

# contentType -> the tips keys that hold the users concerned (one member or a list).
_JOINS: dict[int, tuple[str, ...]] = {
    G.GROUP_CREATED: ("memberList", "groupOwnerUser"),  # GroupCreatedNotification
    G.MEMBER_INVITED: ("invitedUserList",),  # MemberInvitedNotification
    G.MEMBER_ENTER: ("entrantUser",),  # MemberEnterNotification
}
_REMOVALS: dict[int, tuple[str, ...]] = {
    G.MEMBER_QUIT: ("quitUser",),  # MemberQuitNotification
    G.MEMBER_KICKED: ("kickedUserList",),  # MemberKickedNotification
}
_DISMISSED = G.GROUP_DISMISSED  # GroupDismissedNotification: every member leaves
_MAX_NAMED = 10_000  # users read from one list (a group's member cap is far lower)


def _names(tips: dict[str, Any], keys: tuple[str, ...], user_id: str) -> bool:
    for key in keys:
        value = tips.get(key)
        items = value[:_MAX_NAMED] if isinstance(value, list) else [value]
        if any(text(item, "userID") == user_id for item in items):
            return True
    return False


def joins_me(content_type: int, tips: dict[str, Any], user_id: str) -> bool:
    return content_type in _JOINS and _names(tips, _JOINS[content_type], user_id)


def removes_me(content_type: int, tips: dict[str, Any], user_id: str) -> bool:
    if content_type == _DISMISSED:
        return True
    return content_type in _REMOVALS and _names(tips, _REMOVALS[content_type], user_id)
