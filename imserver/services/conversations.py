"""Conversations of a user: settings, listings and version sync.

OpenIM creates conversation documents when a conversation's first message is
stored (conversation.go CreateSingleChatConversations) and logs them in a
per-owner version log. In imserver, message storage (imserver/msgstore.py)
records that a user "has" a conversation; this service turns such
conversations into settings rows the first time it lists the user's
conversations, logging them as inserts, so incremental sync
(`get_incremental_conversations`) reports them like OpenIM does.
Settings changes (set_conversations) are logged as updates and announced
with 1300 ConversationChangeNotification, private-chat changes with 1701
(conversation.go SetConversations).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import ContentType, RecvMsgOpt, SessionType
from imserver import msgstore
from imserver.db import make_read_sessionmaker, small_writes_for
from imserver.models import ConversationRow
from imserver.notify import Notifier
from imserver.reads import ReadTx, reads_for
from imserver.services.common import Operator, Page, paged
from imserver.services.sdkws import Conversation, ConversationSetPrivateTips, ConversationUpdateTips
from imserver.services.versions import Delta, VersionHead, VersionLogs, VersionState, id_hash, read_delta
from imserver.settings import ImServerSettings

__all__ = ["CONVERSATIONS", "ConversationChanges", "ConversationIncrement", "ConversationService", "describe"]

CONVERSATIONS = "conversations"


@dataclass(frozen=True, slots=True)
class ConversationChanges:
    """conversation.ConversationReq wrapper fields that SetConversations applies; None = unset."""

    recv_msg_opt: int | None = None
    attached_info: str | None = None
    ex: str | None = None
    is_pinned: bool | None = None
    group_at_type: int | None = None
    msg_destruct_time: int | None = None
    is_msg_destruct: bool | None = None
    burn_duration: int | None = None

    def values(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True, slots=True)
class ConversationIncrement:
    head: VersionHead
    full: bool
    delete: list[str] | None
    insert: list[Conversation] | None
    update: list[Conversation] | None


def describe(owner: str, conversation_id: str) -> tuple[int, str, str]:
    """(conversationType, userID, groupID) implied by a conversation ID (openim-v3.md 4.5)."""
    prefix, _, rest = conversation_id.partition("_")
    if prefix in ("si", "sn"):
        a, _, b = rest.partition("_")
        other = b if a == owner else a
        return (SessionType.SINGLE if prefix == "si" else SessionType.NOTIFICATION), other, ""
    if prefix == "sg":
        return SessionType.READ_GROUP, "", rest
    if prefix == "g":
        return SessionType.WRITE_GROUP, "", rest
    return 0, "", ""


def _wire(row: ConversationRow) -> Conversation:
    return Conversation(
        ownerUserID=row.owner_user_id,
        conversationID=row.conversation_id,
        recvMsgOpt=row.recv_msg_opt,
        conversationType=row.conversation_type,
        userID=row.user_id,
        groupID=row.group_id,
        isPinned=row.is_pinned,
        attachedInfo=row.attached_info,
        isPrivateChat=row.is_private_chat,
        groupAtType=row.group_at_type,
        ex=row.ex,
        burnDuration=row.burn_duration,
        minSeq=row.min_seq,
        maxSeq=row.max_seq,
        msgDestructTime=row.msg_destruct_time,
        latestMsgDestructTime=row.latest_msg_destruct_time,
        isMsgDestruct=row.is_msg_destruct,
    )


_USER_SEQ = msgstore.UserConversationSeq.__table__
_SETTINGS = ConversationRow.__table__
_UNSETTLED = select(_USER_SEQ.c.conversation_id).where(
    _USER_SEQ.c.user_id == bindparam("o"),
    ~exists().where(
        _SETTINGS.c.owner_user_id == bindparam("o"), _SETTINGS.c.conversation_id == _USER_SEQ.c.conversation_id
    ),
)


_SETTLED = select(_SETTINGS).where(_SETTINGS.c.owner_user_id == bindparam("o")).order_by(_SETTINGS.c.conversation_id)


def _read_unsettled(tx: ReadTx, owner: str) -> list[str]:
    """`ConversationService._unsettled` in a read transaction (imserver.reads)."""
    return sorted(r[0] for r in tx.rows(_UNSETTLED, {"o": owner}) if not msgstore.is_notification_conversation(r[0]))


class ConversationService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        versions: VersionLogs,
        notifier: Notifier,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        # Reads that find nothing to materialize run inline on SQLite, no thread hop (db.py).
        self._reads = make_read_sessionmaker(sessionmaker)
        self._fast_reads = reads_for(sessionmaker)
        self._writes = small_writes_for(sessionmaker)
        self._versions = versions
        self._notifier = notifier

    async def all(self, owner: str) -> list[Conversation]:
        def read(tx: ReadTx) -> list[Conversation] | None:
            if _read_unsettled(tx, owner):
                return None
            return [_wire(r) for r in tx.rows(_SETTLED, {"o": owner})]

        found = await self._fast_reads.run(read)
        if found is not None:
            return found
        async with self._sessionmaker.begin() as session:
            return [_wire(r) for r in await self._rows(session, owner)]

    async def find(self, owner: str, conversation_ids: Sequence[str]) -> list[Conversation]:
        wanted = set(conversation_ids)
        return [c for c in await self.all(owner) if c.conversationID in wanted]

    async def page(self, owner: str, page: Page) -> tuple[int, list[Conversation]]:
        async with self._sessionmaker.begin() as session:
            await self._materialize(session, owner)
            cond = ConversationRow.owner_user_id == owner
            total = (await session.execute(select(func.count()).select_from(ConversationRow).where(cond))).scalar_one()
            stmt = paged(select(ConversationRow).where(cond).order_by(ConversationRow.conversation_id), page)
            rows = [] if stmt is None else list((await session.execute(stmt)).scalars())
        return total, [_wire(r) for r in rows]

    async def ids_where(self, owner: str, *, pinned: bool = False, not_notify: bool = False) -> list[str]:
        return [
            c.conversationID
            for c in await self.all(owner)
            if (not pinned or c.isPinned) and (not not_notify or c.recvMsgOpt == RecvMsgOpt.RECEIVE_NOT_NOTIFY)
        ]

    async def full_ids(self, owner: str, client_hash: int) -> tuple[VersionHead, bool, list[str] | None]:
        async with self._sessionmaker.begin() as session:
            ids = [r.conversation_id for r in await self._rows(session, owner)]
            head = await self._versions.head(session, CONVERSATIONS, owner)
        equal = client_hash == id_hash(ids)
        return head, equal, None if equal else ids or None

    async def incremental(self, owner: str, version_id: str, version: int) -> ConversationIncrement:
        delta: Delta | None = None
        rows: dict[str, Any] = {}

        def read(tx: ReadTx) -> tuple[bool, Delta | None]:  # nothing to materialize, the log exists: no write
            if _read_unsettled(tx, owner):
                return True, None
            found = read_delta(tx, CONVERSATIONS, owner, version_id, version)
            if found is not None:
                rows.update((r.conversation_id, r) for r in tx.rows(_SETTLED, {"o": owner}))
            return False, found

        for first in (True, False):
            unsettled, delta = await self._fast_reads.run(read)
            if unsettled or delta is not None:
                break
            if first:
                await self._writes.run(self._versions.first_log(CONVERSATIONS, owner))
        if delta is None:
            async with self._sessionmaker.begin() as session:
                await self._materialize(session, owner)
                delta = await self._versions.delta(session, CONVERSATIONS, owner, version_id, version)
                rows = {r.conversation_id: r for r in await self._rows(session, owner)}
        insert = [_wire(rows[c]) for c in delta.insert_ids or [] if c in rows] or None
        update = [_wire(rows[c]) for c in delta.update_ids or [] if c in rows] or None
        return ConversationIncrement(delta.head, delta.full, delta.delete_ids, insert, update)

    async def set_min_seq(self, session: AsyncSession, owner: str, conversation_id: str, seq: int) -> None:
        """clear_conversation_msg: SetConversationMinSeq, logged as an update."""
        row = await self._ensure(session, owner, conversation_id)
        row.min_seq = seq
        await session.flush()
        await self._versions.incr(session, CONVERSATIONS, owner, [conversation_id], VersionState.UPDATE)

    async def set_max_seq(self, op: Operator, owners: Sequence[str], conversation_id: str, seq: int) -> None:
        """SetConversationMaxSeq: cap (or with 0 uncap) what the owners see of a group chat.

        Leaving a group caps at the current max seq, joining uncaps
        (group.go deleteMemberAndSetConversationSeq / setMemberJoinSeq); the
        owners' conversation rows are created if missing (CreateGroupChatConversations)
        and each owner gets a 1300 ConversationChangeNotification (conversation.go).
        """
        owners = list(dict.fromkeys(owners))
        if not owners:
            return
        async with self._sessionmaker.begin() as session:
            await msgstore.set_user_max_seq(session, owners, conversation_id, seq, self._settings.now_ms())
            for owner in owners:
                row = await self._ensure(session, owner, conversation_id)
                if row.max_seq != seq:
                    row.max_seq = seq
                    await session.flush()
                    await self._versions.incr(session, CONVERSATIONS, owner, [conversation_id], VersionState.UPDATE)
        for owner in owners:
            tips = ConversationUpdateTips(userID=owner, conversationIDList=[conversation_id])
            await self._notifier.send(op.operation_id, owner, owner, ContentType.CONVERSATION_CHANGE, tips)

    async def set(
        self,
        op: Operator,
        user_ids: Sequence[str],
        conversation_id: str,
        changes: ConversationChanges,
        is_private_chat: bool | None,
        peer_user_id: str,
    ) -> None:
        notify = await self.set_quietly(op, user_ids, conversation_id, changes, is_private_chat, peer_user_id)
        await notify()

    async def set_quietly(
        self,
        op: Operator,
        user_ids: Sequence[str],
        conversation_id: str,
        changes: ConversationChanges,
        is_private_chat: bool | None,
        peer_user_id: str,
    ) -> Callable[[], Awaitable[None]]:
        """`set`'s storage now; its notifications when the returned coroutine function is run."""
        values = changes.values()
        changed: list[str] = []
        async with self._sessionmaker.begin() as session:
            for owner in dict.fromkeys(user_ids):
                row = await self._ensure(session, owner, conversation_id)
                if any(getattr(row, k) != v for k, v in values.items()):
                    for key, value in values.items():
                        setattr(row, key, value)
                    changed.append(owner)
                if is_private_chat is not None:
                    row.is_private_chat = is_private_chat
                if owner in changed or is_private_chat is not None:
                    await session.flush()
                    await self._versions.incr(session, CONVERSATIONS, owner, [conversation_id], VersionState.UPDATE)

        async def notify() -> None:
            await self._notify_set(op, user_ids, conversation_id, changed, is_private_chat, peer_user_id)

        return notify

    async def _notify_set(
        self,
        op: Operator,
        user_ids: Sequence[str],
        conversation_id: str,
        changed: list[str],
        is_private_chat: bool | None,
        peer_user_id: str,
    ) -> None:
        for owner in changed:
            tips = ConversationUpdateTips(userID=owner, conversationIDList=[conversation_id])
            await self._notifier.send(op.operation_id, owner, owner, ContentType.CONVERSATION_CHANGE, tips)
        if is_private_chat is not None:
            for owner in dict.fromkeys(user_ids):
                private = ConversationSetPrivateTips(
                    recvID=peer_user_id, sendID=owner, isPrivate=is_private_chat, conversationID=conversation_id
                )
                await self._notifier.send(
                    op.operation_id, owner, peer_user_id, ContentType.CONVERSATION_PRIVATE_CHAT, private
                )

    async def _rows(self, session: AsyncSession, owner: str) -> list[ConversationRow]:
        await self._materialize(session, owner)
        return await self._settled_rows(session, owner)

    @staticmethod
    async def _settled_rows(session: AsyncSession, owner: str) -> list[ConversationRow]:
        result = await session.execute(
            select(ConversationRow)
            .where(ConversationRow.owner_user_id == owner)
            .order_by(ConversationRow.conversation_id)
        )
        return list(result.scalars())

    @staticmethod
    async def _unsettled(session: AsyncSession, owner: str) -> list[str]:
        """Conversations storage knows and the settings table does not, notifications left out."""
        # One query (it runs on every conversation read): storage's rows with no settings row.
        missing = (await session.execute(_UNSETTLED, {"o": owner})).scalars()
        return sorted(c for c in missing if not msgstore.is_notification_conversation(c))

    async def _materialize(self, session: AsyncSession, owner: str) -> None:
        """Create settings rows for conversations storage knows and this table does not."""
        new = await self._unsettled(session, owner)
        for conversation_id in new:
            session.add(self._new_row(owner, conversation_id))
        if new:
            await session.flush()
            await self._versions.incr(session, CONVERSATIONS, owner, new, VersionState.INSERT)

    async def _ensure(self, session: AsyncSession, owner: str, conversation_id: str) -> ConversationRow:
        row = await session.get(ConversationRow, (owner, conversation_id))
        if row is None:
            row = self._new_row(owner, conversation_id)
            session.add(row)
            await session.flush()
            await self._versions.incr(session, CONVERSATIONS, owner, [conversation_id], VersionState.INSERT)
        return row

    def _new_row(self, owner: str, conversation_id: str) -> ConversationRow:
        kind, user_id, group_id = describe(owner, conversation_id)
        return ConversationRow(
            owner_user_id=owner,
            conversation_id=conversation_id,
            conversation_type=kind,
            user_id=user_id,
            group_id=group_id,
            recv_msg_opt=0,
            is_pinned=False,
            is_private_chat=False,
            burn_duration=0,
            group_at_type=0,
            attached_info="",
            ex="",
            min_seq=0,
            max_seq=0,
            msg_destruct_time=0,
            latest_msg_destruct_time=0,
            is_msg_destruct=False,
            create_time=self._settings.now_ms(),
        )
