"""msgstore: conversation routing, seqs, dedupe (also under a race), notification copies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from imserver import msgstore
from imserver.db import create_all, make_engine, make_sessionmaker
from tests.imserver_gateway.harness import text_msg


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await create_all(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("session_type", "notification", "expected"),
    [
        (1, False, "si_a_b"),
        (1, True, "n_a_b"),
        (3, False, "sg_g1"),
        (3, True, "n_g1"),
        (4, False, "sn_a_b"),
        (2, False, "g_g1"),
        (9, False, ""),
    ],
)
def test_conversation_id_of(session_type: int, notification: bool, expected: str) -> None:
    msg = pb.MsgData(sendID="b", recvID="a", groupID="g1", sessionType=session_type)
    if notification:
        msg.options["isNotNotification"] = False
    assert msgstore.conversation_id_of(msg) == expected


async def test_seqs_per_conversation_and_cursors(db: async_sessionmaker[AsyncSession]) -> None:
    for n, (send, recv) in enumerate([("a", "b"), ("b", "a"), ("a", "c")], start=1):
        (d,) = await msgstore.route_and_store(db, text_msg(send, recv, f"c{n}"), now_ms=1000 + n)
        assert d.targets == (send, recv) and not d.duplicate
    async with db() as session:
        assert await msgstore.max_seqs(session, ["si_a_b", "si_a_c", "si_x_y"]) == {"si_a_b": 2, "si_a_c": 1}
        assert await msgstore.user_conversation_ids(session, "a") == ["si_a_b", "si_a_c"]
        assert await msgstore.visible_conversation_ids(session, "b") == {"si_a_b", "n_a_b", "n_b_b"}
        rows = await msgstore.user_rows(session, "a")
        assert (rows["si_a_b"].has_read_seq, rows["si_a_c"].has_read_seq) == (1, 1)
        msgs = await msgstore.load_messages(session, "a", "si_a_b", [2, 3])
        assert [(m.clientMsgID, m.seq, m.status) for m in msgs] == [("c2", 2, 0), ("", 3, 4)]


async def test_concurrent_duplicates_store_once(db: async_sessionmaker[AsyncSession]) -> None:
    results = await asyncio.gather(
        *(msgstore.route_and_store(db, text_msg("a", "b", "same"), now_ms=1) for _ in range(4))
    )
    deliveries = [r[0] for r in results]
    assert sorted(d.duplicate for d in deliveries) == [False, True, True, True]
    assert {d.msg.seq for d in deliveries} == {1}
    async with db() as session:
        assert await msgstore.max_seqs(session, ["si_a_b"]) == {"si_a_b": 1}


async def test_notification_with_is_send_msg_gets_a_chat_copy(db: async_sessionmaker[AsyncSession]) -> None:
    note = text_msg(
        "a", "b", "n1", opts={"isNotNotification": False, "isSendMsg": True, "history": False, "unreadCount": True}
    )
    original, copy = await msgstore.route_and_store(db, note, now_ms=5)
    assert (original.conversation_id, original.msg.seq) == ("n_a_b", 0)
    assert not original.msg.options["unreadCount"] and not original.msg.options["offlinePush"]
    assert (copy.conversation_id, copy.msg.seq) == ("si_a_b", 1)
    assert dict(copy.msg.options) == {"offlinePush": True, "unreadCount": True}


async def test_group_members_and_sender_sync(db: async_sessionmaker[AsyncSession]) -> None:
    msg = text_msg("a", "", "g", opts={"senderSync": False})
    msg.sessionType, msg.groupID = 3, "g1"
    with pytest.raises(ValueError, match="members"):
        await msgstore.route_and_store(db, msg, now_ms=1)
    (d,) = await msgstore.route_and_store(db, msg, now_ms=1, members=["a", "b", "c"])
    assert (d.conversation_id, d.targets, d.msg.seq) == ("sg_g1", ("b", "c"), 1)
    async with db() as session:
        assert await msgstore.user_conversation_ids(session, "c") == ["sg_g1"]


async def test_store_and_push_skips_duplicates(db: async_sessionmaker[AsyncSession]) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[tuple[str, ...], int, str]] = []

        async def push(self, user_ids: object, msg: pb.MsgData, operation_id: str) -> None:
            assert isinstance(user_ids, tuple)
            self.calls.append((user_ids, msg.seq, operation_id))

    recorder = Recorder()
    for _ in range(2):
        await msgstore.store_and_push(db, recorder, text_msg("a", "b", "x"), "op", now_ms=1)
    assert recorder.calls == [(("a", "b"), 1, "op")]
