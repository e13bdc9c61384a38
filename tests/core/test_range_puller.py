"""RangePuller without I/O: batches halve on ReadLimitError, a seq too large alone is
skipped, and a pull always ends (core/modules/message_pull.py)."""

from __future__ import annotations

import pytest

from core.errors import SdkError
from core.modules.message_pull import PULL_BATCH, RangePuller
from core.protocol import openim_pb2 as pb
from core.protocol.errcodes import ErrCode
from core.transport.gateway import ReadLimitError

LIMIT = 1000


class FakeServer:
    """Answers [lo, hi] with one message per seq; refuses answers over LIMIT bytes as the
    read limit would. `sizes` gives each seq's bytes (default 10)."""

    def __init__(self, sizes: dict[int, int] | None = None) -> None:
        self.sizes = sizes or {}
        self.asked: list[tuple[int, int]] = []
        self.redials = 0
        self.omit: set[int] = set()  # batches starting here are left out of the answer

    async def fetch(self, lo: int, hi: int) -> list[pb.MsgData] | None:
        self.asked.append((lo, hi))
        if lo in self.omit:
            return None  # left out of the answer, as sync_msg.go does when it fails to read
        if sum(self.sizes.get(s, 10) for s in range(lo, hi + 1)) > LIMIT:
            raise ReadLimitError(LIMIT)
        return [pb.MsgData(seq=s, clientMsgID=f"m{s}") for s in range(lo, hi + 1)]

    async def reconnected(self) -> None:
        self.redials += 1


async def test_small_messages_use_the_sdk_batch() -> None:
    server = FakeServer()
    puller = RangePuller(server.reconnected)
    got = (await puller.pull("si_a_b", 1, 250, server.fetch)).msgs
    assert [m.seq for m in got] == list(range(1, 251))
    assert server.asked == [(1, 100), (101, 200), (201, 250)] and server.redials == 0
    assert PULL_BATCH == 100


async def test_long_messages_halve_the_batch_and_it_is_remembered() -> None:
    server = FakeServer(dict.fromkeys(range(1, 201), 300))  # 3 fit in LIMIT
    puller = RangePuller(server.reconnected)
    got = (await puller.pull("si_a_b", 1, 200, server.fetch)).msgs
    assert [m.seq for m in got] == list(range(1, 201))
    assert [hi - lo + 1 for lo, hi in server.asked[:7]] == [100, 50, 25, 12, 6, 3, 3]
    assert server.redials == 5 and puller.batch_of("si_a_b") == 3 and puller.skipped == 0
    server.asked.clear()
    await puller.pull("si_a_b", 201, 206, server.fetch)
    assert server.asked == [(201, 203), (204, 206)], "the next pull starts at the batch that fitted"
    assert puller.batch_of("si_other") == PULL_BATCH


async def test_a_message_too_large_alone_is_skipped_after_two_tries_and_the_batch_recovers() -> None:
    server = FakeServer({5: LIMIT + 1})
    puller = RangePuller(server.reconnected)
    got = (await puller.pull("si_a_b", 1, 300, server.fetch)).msgs
    assert [m.seq for m in got] == list(range(1, 301))
    skipped = got[4]
    assert skipped.seq == 5 and skipped.status == 4 and not skipped.clientMsgID, "a deleted placeholder"
    assert puller.skipped == 1
    assert server.asked.count((5, 5)) == 2
    assert puller.batch_of("si_a_b") == PULL_BATCH, "one outlier does not shrink the conversation for good"


async def test_a_pull_ends_even_when_every_answer_is_too_large() -> None:
    server = FakeServer(dict.fromkeys(range(1, 41), LIMIT + 1))
    puller = RangePuller(server.reconnected)
    got = (await puller.pull("si_a_b", 1, 40, server.fetch)).msgs
    assert [(m.seq, m.status) for m in got] == [(s, 4) for s in range(1, 41)]
    assert puller.skipped == 40
    # Each skip costs two strikes and, at worst, a descent from where the pull started.
    assert server.redials <= 40 * 2 + 40 * 7


async def test_other_errors_are_not_retried() -> None:
    async def broken(lo: int, hi: int) -> list[pb.MsgData]:
        raise SdkError(ErrCode.NetworkError, detail="connection lost")

    server = FakeServer()
    puller = RangePuller(server.reconnected)
    with pytest.raises(SdkError) as info:
        await puller.pull("si_a_b", 1, 10, broken)
    assert not isinstance(info.value, ReadLimitError) and server.redials == 0


async def test_a_gateway_that_does_not_come_back_ends_the_pull() -> None:
    server = FakeServer({1: LIMIT + 1})

    async def gone() -> None:
        raise SdkError(ErrCode.NetworkError, detail="the message gateway did not reconnect")

    with pytest.raises(SdkError, match="did not reconnect"):
        await RangePuller(gone).pull("si_a_b", 1, 10, server.fetch)


async def test_a_conversation_left_out_of_an_answer_ends_the_pull_where_it_was() -> None:
    server = FakeServer()
    server.omit = {101}
    pulled = await RangePuller(server.reconnected).pull("si_a_b", 1, 250, server.fetch)
    assert [m.seq for m in pulled.msgs] == list(range(1, 101))
    assert (pulled.through, pulled.complete) == (100, False)
    assert server.asked == [(1, 100), (101, 200)], "nothing is asked past the batch that was left out"
    server.omit = {1}
    first = await RangePuller(server.reconnected).pull("si_a_b", 1, 10, server.fetch)
    assert (first.msgs, first.through, first.complete) == ([], 0, False)
    whole = await RangePuller(server.reconnected).pull("si_a_b", 11, 20, server.fetch)
    assert (whole.through, whole.complete) == (20, True)
