"""The message writer (imserver/msgwriter.py): group commit on SQLite and PostgreSQL.

Seqs per conversation stay 1..N without gaps or duplicates under many concurrent senders,
messages really share transactions, a message whose statement fails fails alone, and
closing the writer stores what was queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.protocol import openim_pb2 as pb
from imserver import msgstore
from imserver.db import create_all, make_engine
from imserver.msgwriter import MessageWriter
from tests.imserver_gateway.harness import text_msg
from tests.support.cluster import fresh_database


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.services)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with _database(request.param, tmp_path) as url:
        eng = make_engine(url)
        await create_all(eng)
        try:
            yield eng
        finally:
            await eng.dispose()


def _database(kind: str, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[str]:
    if kind == "sqlite":
        return _sqlite(tmp_path)
    return fresh_database("oimb_msgwriter")


@contextlib.asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{tmp_path / 'im.db'}"


async def _stored_seqs(engine: AsyncEngine, conversation_id: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(msgstore.StoredMsg.seq)
            .where(msgstore.StoredMsg.conversation_id == conversation_id)
            .order_by(msgstore.StoredMsg.seq)
        )
        return list(rows.scalars())


def _send(writer: MessageWriter, msg: pb.MsgData) -> asyncio.Future[tuple[pb.MsgData, bool]]:
    return writer.submit(msg, msgstore.conversation_id_of(msg), [msg.sendID, msg.recvID], 1)


async def test_concurrent_sends_to_one_conversation_get_seqs_1_to_n(engine: AsyncEngine) -> None:
    writer = MessageWriter(engine)
    n = 300
    try:
        results = await asyncio.gather(*(_send(writer, text_msg("a", "b", f"c{i}")) for i in range(n)))
    finally:
        await writer.close()
    seqs = sorted(msg.seq for msg, duplicate in results)
    assert seqs == list(range(1, n + 1))
    assert not any(duplicate for _, duplicate in results)
    assert await _stored_seqs(engine, "si_a_b") == list(range(1, n + 1))
    # Group commit: the senders shared transactions (all were queued before the first ran).
    assert writer.stored == n
    assert writer.batches < n / 10
    async with engine.connect() as conn:
        max_seq = await conn.scalar(
            select(msgstore.ConversationSeq.max_seq).where(msgstore.ConversationSeq.conversation_id == "si_a_b")
        )
        read = await conn.scalar(
            select(msgstore.UserConversationSeq.has_read_seq).where(
                msgstore.UserConversationSeq.user_id == "a", msgstore.UserConversationSeq.conversation_id == "si_a_b"
            )
        )
    assert (max_seq, read) == (n, n)


async def test_a_resend_in_the_same_batch_answers_the_first(engine: AsyncEngine) -> None:
    writer = MessageWriter(engine)
    try:
        first, second = await asyncio.gather(
            _send(writer, text_msg("a", "b", "same")), _send(writer, text_msg("a", "b", "same"))
        )
    finally:
        await writer.close()
    assert writer.batches == 1
    assert (first[0].seq, first[1], second[0].seq, second[1]) == (1, False, 1, True)
    assert await _stored_seqs(engine, "si_a_b") == [1]


async def _refuse_poison(engine: AsyncEngine) -> None:
    """A real statement failure: the database refuses one message's insert."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON msg_message "
                    "WHEN NEW.client_msg_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'poison refused'; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON msg_message FOR EACH ROW "
                    "WHEN (NEW.client_msg_id = 'poison') EXECUTE FUNCTION refuse_poison()"
                )
            )


async def test_a_failing_statement_fails_only_its_own_send(engine: AsyncEngine) -> None:
    await _refuse_poison(engine)
    writer = MessageWriter(engine)
    good = [text_msg("a", "b", f"g{i}") for i in range(20)]
    try:
        sends = [_send(writer, m) for m in good[:10]]
        poisoned = _send(writer, text_msg("a", "b", "poison"))
        sends += [_send(writer, m) for m in good[10:]]
        results = await asyncio.gather(*sends)
        # SQLite files: raised by stdlib sqlite3 (the writer runs it directly); else SQLAlchemy's.
        with pytest.raises((DBAPIError, sqlite3.DatabaseError), match="poison refused"):
            await poisoned
    finally:
        await writer.close()
    # The poisoned message's seq went back with its rollback: no gap.
    assert sorted(msg.seq for msg, _ in results) == list(range(1, 21))
    assert await _stored_seqs(engine, "si_a_b") == list(range(1, 21))


async def test_close_stores_what_is_queued(engine: AsyncEngine) -> None:
    writer = MessageWriter(engine)
    sends = [_send(writer, text_msg("a", "b", f"q{i}")) for i in range(50)]
    assert writer.stored == 0  # queued, none stored yet: the writer has not run
    await writer.close()
    assert all(s.done() and s.exception() is None for s in sends)
    assert await _stored_seqs(engine, "si_a_b") == list(range(1, 51))
    with pytest.raises(RuntimeError, match="closed"):
        await writer.store(text_msg("a", "b", "late"), "si_a_b", ["a", "b"], 1)
