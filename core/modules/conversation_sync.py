"""Versioned incremental sync of the conversation list (openim-v3.md 5.9 step 7).

What openimsdk/openim-sdk-core v3.8.3 does in internal/conversation_msg/
incremental_sync.go (IncrSyncConversations), against open-im-server
internal/rpc/conversation/sync.go (GetIncrementalConversation):

* one (versionID, version) for the user's conversation list, kept in the
  checkpoint (the SDK's local_version_sync row for `local_conversations`);
* `/conversation/get_incremental_conversations`; on `full`,
  `/conversation/get_all_conversations`: taken silently when no conversation
  is known yet (the SDK's FullSync of an empty table), else diffed;
* an inserted or updated conversation takes the server's settings, and is
  reported with OnConversationChanged when they changed, or when it is new to
  this core: the SDK's syncer Notice turns Insert and Update alike into
  ConChange, so version sync never says OnNewConversation;
* deletions are not applied (conversationSyncer.Sync(..., skipDeletion=true)).

The settings are the server-side ones the SDK compares (conversation_msg.go
WithEqual) minus maxSeq/minSeq: on the server those are per-user read caps,
while this core counts unread from the message side. Draft and hidden state
are SDK-local in v3.8.3 (SetConversationDraft, HideConversation only write
its database): they are never synced.
"""

from __future__ import annotations

from typing import Any

from core.models import LocalConversation
from core.modules.version_sync import Delta, Version, objects
from core.transport.api import ApiClient
from core.untrusted import flag, integer, text

__all__ = ["apply_settings", "fetch_all", "fetch_delta", "new_conversation"]


def apply_settings(conv: LocalConversation, raw: dict[str, Any]) -> bool:
    """Take a server conversation's settings (conversation.Conversation); True if any changed."""
    before = conv.model_dump()
    conv.recvMsgOpt = integer(raw, "recvMsgOpt")
    conv.isPinned = flag(raw, "isPinned")
    conv.isPrivateChat = flag(raw, "isPrivateChat")
    conv.burnDuration = integer(raw, "burnDuration")
    conv.groupAtType = integer(raw, "groupAtType")
    conv.attachedInfo = text(raw, "attachedInfo")
    conv.ex = text(raw, "ex")
    conv.msgDestructTime = integer(raw, "msgDestructTime")
    conv.isMsgDestruct = flag(raw, "isMsgDestruct")
    return conv.model_dump() != before


def new_conversation(raw: dict[str, Any]) -> LocalConversation | None:
    """A local conversation for a server one (None without an ID), settings not yet applied."""
    cid = text(raw, "conversationID")
    if not cid:
        return None
    return LocalConversation(
        conversationID=cid,
        conversationType=integer(raw, "conversationType") or 1,
        userID=text(raw, "userID"),
        groupID=text(raw, "groupID"),
    )


async def fetch_delta(api: ApiClient, me: str, version: Version, operation_id: str) -> Delta:
    body = {"userID": me, **version.body()}
    return Delta.parse(await api.post("/conversation/get_incremental_conversations", body, operation_id))


async def fetch_all(api: ApiClient, me: str, operation_id: str) -> list[dict[str, Any]]:
    data = await api.post("/conversation/get_all_conversations", {"ownerUserID": me}, operation_id)
    return objects(data, "conversations")
