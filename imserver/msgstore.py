"""Message storage of imserver: conversation seqs, stored messages, per-user cursors.

The model follows OpenIM v3.8 (openim-v3.md 7.1, 7.2):

* `msg_conversation_seq` = the `seq` collection / SeqConversationCache: one max seq
  per conversation, shared by all members, starting at 1
  (open-im-server pkg/common/storage/controller/msg_transfer.go BatchInsertChat2Cache).
* `msg_message` = the msg documents: MsgData protobuf bytes by (conversationID, seq);
  clientMsgID is unique per conversation so a resent 1003 is answered, not stored twice.
* `msg_user_seq` = the `seq_user` collection: per user and conversation the read cursor
  (hasReadSeq) and the visible range (minSeq raised by clear, maxSeq cap on leaving a
  group; 0 = no cap). A row also records that the user "has" the conversation, which
  OpenIM keeps in conversation documents (created with the first stored message).
* `msg_user_deleted` = MsgInfoModel.DelList (delete_msgs without sync: hidden for one user).

Functions take an `AsyncSession` and leave commit to the caller, except
`route_and_store`, which hands each copy to the database's one message writer
(imserver/msgwriter.py: group commit), and `store_and_push`, which then pushes online.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BigInteger, Boolean, LargeBinary, Row, String, Text, UniqueConstraint, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, MsgStatus, SessionType
from imserver import msgwriter
from imserver.db import Base
from imserver.reads import ReadTx

__all__ = [
    "ConversationSeq",
    "Delivery",
    "Pusher",
    "StoredMsg",
    "UserConversationSeq",
    "UserDeletedMsg",
    "chat_conversation_id",
    "conversation_id_of",
    "delete_for_user",
    "ensure_user_conversations",
    "hide_history",
    "is_notification_conversation",
    "last_message",
    "load_messages",
    "mark_revoked",
    "max_seqs",
    "option",
    "push_deliveries",
    "route_and_store",
    "seq_rows",
    "set_has_read_seq",
    "set_user_max_seq",
    "set_user_min_seq",
    "store_and_push",
    "user_conversation_ids",
    "user_rows",
    "visible_conversation_ids",
]


class ConversationSeq(Base):
    __tablename__ = "msg_conversation_seq"

    conversation_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    min_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # OpenIM SeqTime: server time (ms) of the last Malloc, answered as maxSeqTime (1006).
    max_seq_time: Mapped[int] = mapped_column(BigInteger, default=0)


class StoredMsg(Base):
    __tablename__ = "msg_message"
    __table_args__ = (UniqueConstraint("conversation_id", "client_msg_id", name="uq_msg_message_client_id"),)

    conversation_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # NULL when the sender gave none, so such messages never collide.
    client_msg_id: Mapped[str | None] = mapped_column(String(128))
    send_id: Mapped[str] = mapped_column(String(128))
    send_time: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON {revokerID, revokerRole, revokerNickname, revokeTime} once revoked (RevokeModel).
    revoke: Mapped[str | None] = mapped_column(Text, default=None)


class UserConversationSeq(Base):
    __tablename__ = "msg_user_seq"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    has_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    min_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)


class UserDeletedMsg(Base):
    __tablename__ = "msg_user_deleted"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


# --- conversation IDs and options (open-im-server pkg/msgprocessor) -------------------


def option(msg: pb.MsgData, key: str) -> bool:
    """`Options.Is`: an absent key means true (pkg/msgprocessor/options.go)."""
    return msg.options.get(key, True)


def _pair(a: str, b: str) -> str:
    return "_".join(sorted((a, b)))


def chat_conversation_id(msg: pb.MsgData) -> str:
    """GetChatConversationIDByMsg: si_/sg_/sn_ (g_ for the unused sessionType 2)."""
    match msg.sessionType:
        case SessionType.SINGLE:
            return "si_" + _pair(msg.sendID, msg.recvID)
        case SessionType.WRITE_GROUP:
            return "g_" + msg.groupID
        case SessionType.READ_GROUP:
            return "sg_" + msg.groupID
        case SessionType.NOTIFICATION:
            return "sn_" + _pair(msg.sendID, msg.recvID)
    return ""


def conversation_id_of(msg: pb.MsgData) -> str:
    """GetConversationIDByMsg: the n_ conversation for notifications (isNotNotification=false)."""
    chat = chat_conversation_id(msg)
    if chat and not option(msg, "isNotNotification"):
        return "n_" + chat.partition("_")[2]
    return chat


def is_notification_conversation(conversation_id: str) -> bool:
    return conversation_id.startswith("n_")


# --- storage primitives ---------------------------------------------------------------


async def _insert_ignore(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL, else look-then-insert."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        await session.execute(sqlite_insert(model).values(rows).on_conflict_do_nothing())
        return
    if dialect == "postgresql":
        await session.execute(pg_insert(model).values(rows).on_conflict_do_nothing())
        return
    for row in rows:
        if await session.get(model, tuple(row[c.name] for c in model.__table__.primary_key)) is None:
            session.add(model(**row))
    await session.flush()


async def ensure_user_conversations(
    session: AsyncSession, user_ids: Iterable[str], conversation_id: str, now_ms: int
) -> None:
    """Give each user a cursor row for the conversation (OpenIM creates conversation docs)."""
    rows = [{"user_id": u, "conversation_id": conversation_id, "create_time": now_ms} for u in dict.fromkeys(user_ids)]
    await _insert_ignore(session, UserConversationSeq, rows)


async def set_has_read_seq(session: AsyncSession, user_id: str, conversation_id: str, seq: int) -> None:
    """Raise (never lower) the user's read cursor (seq_user SetUserReadSeq)."""
    await session.execute(
        update(UserConversationSeq)
        .where(
            UserConversationSeq.user_id == user_id,
            UserConversationSeq.conversation_id == conversation_id,
            UserConversationSeq.has_read_seq < seq,
        )
        .values(has_read_seq=seq)
    )


async def set_user_min_seq(session: AsyncSession, user_id: str, conversation_id: str, seq: int) -> None:
    """clear_conversation_msg: hide everything below `seq` for this user."""
    await session.execute(
        update(UserConversationSeq)
        .where(UserConversationSeq.user_id == user_id, UserConversationSeq.conversation_id == conversation_id)
        .values(min_seq=seq)
    )


async def set_user_max_seq(
    session: AsyncSession, user_ids: Iterable[str], conversation_id: str, seq: int, now_ms: int
) -> None:
    """Cap what the users see at `seq` (0 = no cap): SetUserConversationsMaxSeq on leaving/joining a group."""
    users = list(dict.fromkeys(user_ids))
    await ensure_user_conversations(session, users, conversation_id, now_ms)
    await session.execute(
        update(UserConversationSeq)
        .where(UserConversationSeq.user_id.in_(users), UserConversationSeq.conversation_id == conversation_id)
        .values(max_seq=seq)
    )


async def hide_history(session: AsyncSession, user_ids: Iterable[str], conversation_id: str, now_ms: int) -> int:
    """New group members see nothing before their join: minSeq = maxSeq + 1
    (SetUserConversationsMinSeq, enableHistoryForNewMembers=false), and that hidden
    past is not unread. Returns the conversation's max seq."""
    users = list(dict.fromkeys(user_ids))
    max_seq = (await max_seqs(session, [conversation_id])).get(conversation_id, 0)
    await ensure_user_conversations(session, users, conversation_id, now_ms)
    cond = (UserConversationSeq.user_id.in_(users), UserConversationSeq.conversation_id == conversation_id)
    await session.execute(update(UserConversationSeq).where(*cond).values(min_seq=max_seq + 1))
    unread = UserConversationSeq.has_read_seq < max_seq
    await session.execute(update(UserConversationSeq).where(*cond, unread).values(has_read_seq=max_seq))
    return max_seq


async def delete_for_user(session: AsyncSession, user_id: str, conversation_id: str, seqs: Iterable[int]) -> None:
    rows = [{"user_id": user_id, "conversation_id": conversation_id, "seq": s} for s in set(seqs)]
    await _insert_ignore(session, UserDeletedMsg, rows)


async def mark_revoked(
    session: AsyncSession,
    conversation_id: str,
    seq: int,
    *,
    revoker_id: str,
    revoker_role: int,
    revoker_nickname: str,
    revoke_time: int,
) -> bool:
    """Store the revoke marker; pulled copies then read as 2101 (controller/msg.go RevokeMsg)."""
    marker = {
        "revokerID": revoker_id,
        "revokerRole": revoker_role,
        "revokerNickname": revoker_nickname,
        "revokeTime": revoke_time,
    }
    result = await session.execute(
        update(StoredMsg)
        .where(StoredMsg.conversation_id == conversation_id, StoredMsg.seq == seq)
        .values(revoke=json.dumps(marker))
    )
    return bool(getattr(result, "rowcount", 0))


# --- reading --------------------------------------------------------------------------


# Core statements built once (no ORM objects on the sync paths: 1001, 1002, 1005-1007, the
# conversation settings' reads); `ids` / `seqs` are expanding IN lists.
_USER = UserConversationSeq.__table__
_SEQ = ConversationSeq.__table__
_MSG = StoredMsg.__table__
_USER_ROWS = select(_USER).where(_USER.c.user_id == bindparam("u"))
_USER_ROWS_IN = _USER_ROWS.where(_USER.c.conversation_id.in_(bindparam("ids", expanding=True)))
_USER_CONVERSATIONS = select(_USER.c.conversation_id).where(_USER.c.user_id == bindparam("u"))
_SEQ_ROWS = select(_SEQ).where(_SEQ.c.conversation_id.in_(bindparam("ids", expanding=True)))
_MESSAGES = select(_MSG).where(
    _MSG.c.conversation_id == bindparam("c"), _MSG.c.seq.in_(bindparam("seqs", expanding=True))
)
_DELETED = select(UserDeletedMsg.__table__.c.seq).where(
    UserDeletedMsg.__table__.c.user_id == bindparam("u"),
    UserDeletedMsg.__table__.c.conversation_id == bindparam("c"),
    UserDeletedMsg.__table__.c.seq.in_(bindparam("seqs", expanding=True)),
)
_NEWEST = select(_MSG).where(_MSG.c.conversation_id == bindparam("c"), _MSG.c.seq >= bindparam("lo"))
_NEWEST_BELOW = _NEWEST.where(_MSG.c.seq <= bindparam("hi"))
_NEWEST, _NEWEST_BELOW = (s.order_by(_MSG.c.seq.desc()).limit(1) for s in (_NEWEST, _NEWEST_BELOW))


async def user_rows(
    session: AsyncSession, user_id: str, conversation_ids: Iterable[str] | None = None
) -> dict[str, Row[Any]]:
    """The user's msg_user_seq rows (columns as attributes) by conversation."""
    if conversation_ids is None:
        result = await session.execute(_USER_ROWS, {"u": user_id})
    else:
        result = await session.execute(_USER_ROWS_IN, {"u": user_id, "ids": list(conversation_ids)})
    return {r.conversation_id: r for r in result}


async def _user_conversations(session: AsyncSession, user_id: str) -> list[str]:
    return list((await session.execute(_USER_CONVERSATIONS, {"u": user_id})).scalars())


async def user_conversation_ids(session: AsyncSession, user_id: str) -> list[str]:
    """Chat conversations the user has (rows of n_ conversations excluded)."""
    return sorted(c for c in await _user_conversations(session, user_id) if not is_notification_conversation(c))


async def visible_conversation_ids(session: AsyncSession, user_id: str) -> set[str]:
    """What the user may sync: its conversations, their n_ twins and n_<uid>_<uid> (sync_msg.go GetMaxSeq)."""
    ids = set(await _user_conversations(session, user_id))
    ids |= {"n_" + c.partition("_")[2] for c in list(ids) if not is_notification_conversation(c)}
    ids.add(f"n_{user_id}_{user_id}")
    return ids


async def seq_rows(session: AsyncSession, conversation_ids: Iterable[str]) -> dict[str, Row[Any]]:
    """msg_conversation_seq rows (columns as attributes) by conversation."""
    result = await session.execute(_SEQ_ROWS, {"ids": list(conversation_ids)})
    return {r.conversation_id: r for r in result}


async def max_seqs(session: AsyncSession, conversation_ids: Iterable[str]) -> dict[str, int]:
    """Non-zero max seqs (GetMaxSeq drops zeros)."""
    return {c: r.max_seq for c, r in (await seq_rows(session, conversation_ids)).items() if r.max_seq}


# --- the same reads in a read transaction (imserver.reads): the login's 1001 / 1006 --------------


def read_user_rows(tx: ReadTx, user_id: str, conversation_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """`user_rows` in a read transaction."""
    if conversation_ids is None:
        rows = tx.rows(_USER_ROWS, {"u": user_id})
    elif not conversation_ids:
        return {}
    else:
        rows = tx.rows(_USER_ROWS_IN, {"u": user_id, "ids": list(conversation_ids)})
    return {r.conversation_id: r for r in rows}


def read_user_conversation_ids(tx: ReadTx, user_id: str) -> list[str]:
    """`user_conversation_ids` in a read transaction."""
    return sorted(c for c in _read_user_conversations(tx, user_id) if not is_notification_conversation(c))


def read_visible_conversation_ids(tx: ReadTx, user_id: str) -> set[str]:
    """`visible_conversation_ids` in a read transaction."""
    ids = set(_read_user_conversations(tx, user_id))
    ids |= {"n_" + c.partition("_")[2] for c in list(ids) if not is_notification_conversation(c)}
    ids.add(f"n_{user_id}_{user_id}")
    return ids


def read_seq_rows(tx: ReadTx, conversation_ids: Iterable[str]) -> dict[str, Any]:
    """`seq_rows` in a read transaction."""
    ids = list(conversation_ids)
    return {r.conversation_id: r for r in tx.rows(_SEQ_ROWS, {"ids": ids})} if ids else {}


def read_max_seqs(tx: ReadTx, conversation_ids: Iterable[str]) -> dict[str, int]:
    """`max_seqs` in a read transaction."""
    return {c: r.max_seq for c, r in read_seq_rows(tx, conversation_ids).items() if r.max_seq}


def _read_user_conversations(tx: ReadTx, user_id: str) -> list[str]:
    return [r[0] for r in tx.rows(_USER_CONVERSATIONS, {"u": user_id})]


def _revoked_content(msg: pb.MsgData, marker: dict[str, Any]) -> bytes:
    # controller/msg.go handlerDeleteAndRevoked: NotificationElem{detail: MessageRevokedContent}.
    detail = {
        "revokerID": marker.get("revokerID", ""),
        "revokerRole": marker.get("revokerRole", 0),
        "clientMsgID": msg.clientMsgID,
        "revokerNickname": marker.get("revokerNickname", ""),
        "revokeTime": marker.get("revokeTime", 0),
        "sourceMessageSendTime": msg.sendTime,
        "sourceMessageSendID": msg.sendID,
        "sourceMessageSenderNickname": msg.senderNickname,
        "sessionType": msg.sessionType,
        "seq": msg.seq,
        "ex": msg.ex,
    }
    return json.dumps({"detail": json.dumps(detail, separators=(",", ":"))}, separators=(",", ":")).encode()


def _as_seen_by(row: Row[Any], deleted: bool) -> pb.MsgData:
    msg = pb.MsgData.FromString(row.data)
    msg.isRead = row.is_read
    if deleted:
        msg.content = b""
        msg.status = MsgStatus.HAS_DELETED
    if row.revoke is not None:
        msg.content = _revoked_content(msg, json.loads(row.revoke))
        msg.contentType = ContentType.MSG_REVOKE
    return msg


async def _deleted_seqs(session: AsyncSession, user_id: str, conversation_id: str, seqs: list[int]) -> set[int]:
    return set((await session.execute(_DELETED, {"u": user_id, "c": conversation_id, "seqs": seqs})).scalars())


async def load_messages(
    session: AsyncSession, user_id: str, conversation_id: str, seqs: Sequence[int]
) -> list[pb.MsgData]:
    """Messages in `seqs` order; a missing seq becomes {seq, status 4} (GetMessageBySeqs)."""
    if not seqs:
        return []
    wanted = list(dict.fromkeys(seqs))
    rows = (await session.execute(_MESSAGES, {"c": conversation_id, "seqs": wanted})).all()
    deleted = await _deleted_seqs(session, user_id, conversation_id, wanted)
    found = {r.seq: _as_seen_by(r, r.seq in deleted) for r in rows}
    return [found.get(s) or pb.MsgData(seq=s, status=MsgStatus.HAS_DELETED) for s in seqs]


async def last_message(
    session: AsyncSession, user_id: str, conversation_id: str, min_seq: int = 0, max_seq: int = 0
) -> pb.MsgData | None:
    """The newest stored message inside the user's visible range (GetLastMessage)."""
    params = {"c": conversation_id, "lo": min_seq, "hi": max_seq}
    row = (await session.execute(_NEWEST_BELOW if max_seq else _NEWEST, params)).first()
    if row is None:
        return None
    deleted = await _deleted_seqs(session, user_id, conversation_id, [row.seq])
    return _as_seen_by(row, bool(deleted))


# --- routing a message: store, then push ---------------------------------------------


class Pusher(Protocol):
    """What storage needs from the gateway (imserver.gateway.hub.Hub)."""

    async def push(self, user_ids: Iterable[str], msg: pb.MsgData, operation_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One copy of a message for one conversation; `duplicate` = already stored earlier."""

    conversation_id: str
    msg: pb.MsgData
    targets: tuple[str, ...]
    duplicate: bool = False


def _split_send_msg_copy(msg: pb.MsgData) -> list[pb.MsgData]:
    """A notification with isSendMsg also lands in the chat conversation as a normal message
    with options {offlinePush, unreadCount} only; the original loses both
    (msgtransfer/online_history_msg_handler.go categorizeMessageLists)."""
    if option(msg, "isNotNotification") or not option(msg, "isSendMsg"):
        return [msg]
    copy = pb.MsgData()
    copy.CopyFrom(msg)
    copy.options.clear()
    copy.options.update({"offlinePush": option(msg, "offlinePush"), "unreadCount": option(msg, "unreadCount")})
    msg.options.update({"offlinePush": False, "unreadCount": False})
    return [msg, copy]


async def route_and_store(
    sessionmaker: async_sessionmaker[AsyncSession],
    msg: pb.MsgData,
    now_ms: int,
    members: Sequence[str] | None = None,
) -> list[Delivery]:
    """Choose conversation(s), assign seqs and store when `history` (absent = true).

    `members` are the conversation's users (group members for sessionType 3); the
    default is sendID and recvID. Push targets are the members, without the sender
    when senderSync is false (push_handler.go; 7.1 step 6).
    """
    if members is None:
        if msg.sessionType == SessionType.READ_GROUP:
            raise ValueError("group messages need their members")
        members = [msg.sendID, msg.recvID]
    members = list(dict.fromkeys(members))
    out: list[Delivery] = []
    for copy in _split_send_msg_copy(msg):
        conversation_id = conversation_id_of(copy)
        targets = [u for u in members if option(copy, "senderSync") or u != copy.sendID or u == copy.recvID]
        if not option(copy, "history"):
            out.append(Delivery(conversation_id, copy, tuple(targets)))
            continue
        first, duplicate = await msgwriter.writer_for(sessionmaker).store(copy, conversation_id, members, now_ms)
        out.append(Delivery(conversation_id, first, tuple(targets), duplicate))
    return out


async def push_deliveries(pusher: Pusher, deliveries: Iterable[Delivery], operation_id: str) -> None:
    for d in deliveries:
        if not d.duplicate:
            await pusher.push(d.targets, d.msg, operation_id)


async def store_and_push(
    sessionmaker: async_sessionmaker[AsyncSession],
    pusher: Pusher,
    msg: pb.MsgData,
    operation_id: str,
    now_ms: int,
    members: Sequence[str] | None = None,
) -> list[Delivery]:
    """Store (when history) and push online: the whole of msgtransfer + push for one message.

    The HTTP side uses it for notifications (reliability 2 sets history+persistent, 7.3);
    the gateway's 1003 uses `route_and_store` and pushes after answering.
    """
    deliveries = await route_and_store(sessionmaker, msg, now_ms, members)
    await push_deliveries(pusher, deliveries, operation_id)
    return deliveries
