"""The durable per-user local message store (openim-sdk-core's local chat log, for what
only the device knows): messages inserted with Insert*MessageToLocalStorage and the
localEx of any message (SetMessageLocalEx). Rows live in the checkpoint database
(table core_local_messages, core/migrations 0003), so they survive parking,
restarts and a move to another bridge node, and are shared by the user's sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from core.checkpoint import LocalMessageRow, _unavailable
from core.msgstruct import MsgStruct

__all__ = ["LocalMessageStore", "StoredMessage"]

# Local-only messages one conversation returns at most per query (they are rare).
_MAX_PER_QUERY = 1000


@dataclass(frozen=True, slots=True)
class StoredMessage:
    conversation_id: str
    client_msg_id: str
    message: MsgStruct | None
    local_ex: str


class LocalMessageStore:
    def __init__(self, engine: AsyncEngine, user_id: str) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._user = user_id

    async def insert(self, conv_id: str, msg: MsgStruct) -> None:
        row = LocalMessageRow(
            user_id=self._user,
            conversation_id=conv_id,
            client_msg_id=msg.clientMsgID,
            send_time=msg.sendTime,
            data=msg.model_dump_json(),
            local_ex=msg.localEx or "",
        )
        with _unavailable("insert local message"):
            async with self._sessions.begin() as s:
                await s.merge(row)

    async def set_local_ex(self, conv_id: str, client_msg_id: str, local_ex: str, send_time: int) -> MsgStruct | None:
        """Keep `local_ex` for the message; the local-only message, updated, if it is one."""
        with _unavailable("set localEx"):
            async with self._sessions.begin() as s:
                row = await s.get(LocalMessageRow, (self._user, conv_id, client_msg_id))
                if row is None:
                    s.add(LocalMessageRow(user_id=self._user, conversation_id=conv_id, client_msg_id=client_msg_id,
                                          send_time=send_time, data=None, local_ex=local_ex))  # fmt: skip
                    return None
                row.local_ex = local_ex
                if row.data is None:
                    return None
                msg = MsgStruct.model_validate(json.loads(row.data))
                msg.localEx = local_ex
                row.data = msg.model_dump_json()
                return msg

    async def get(self, conv_id: str, client_msg_id: str) -> StoredMessage | None:
        with _unavailable("read local message"):
            async with self._sessions() as s:
                row = await s.get(LocalMessageRow, (self._user, conv_id, client_msg_id))
        return _stored(row) if row is not None else None

    async def in_conversation(self, conv_id: str, after: int, until: int) -> list[StoredMessage]:
        """Rows of a conversation with after < sendTime <= until, oldest first."""
        stmt = (
            select(LocalMessageRow)
            .where(
                LocalMessageRow.user_id == self._user,
                LocalMessageRow.conversation_id == conv_id,
                LocalMessageRow.send_time > after,
                LocalMessageRow.send_time <= until,
            )
            .order_by(LocalMessageRow.send_time)
            .limit(_MAX_PER_QUERY)
        )
        with _unavailable("read local messages"):
            async with self._sessions() as s:
                rows = (await s.execute(stmt)).scalars().all()
        return [_stored(r) for r in rows]


def _stored(row: LocalMessageRow) -> StoredMessage:
    msg = MsgStruct.model_validate(json.loads(row.data)) if row.data else None
    return StoredMessage(row.conversation_id, row.client_msg_id, msg, row.local_ex)
