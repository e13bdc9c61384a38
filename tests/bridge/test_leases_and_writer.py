"""SessionLeases and SessionEventWriter on the memory backends (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from bridge.errors import BridgeError, NotOwnerError
from bridge.event_writer import SessionEventWriter, encode_data
from bridge.eventlog import Fence, FencedOut, Mark, MemoryEventLog, StoredEvent
from bridge.leases import SessionLeases
from bridge.session_handle import SessionHandle
from bridge.sessions import MemorySessionDirectory, SessionId, SessionRecord
from core.events import Event
from core.protocol.errcodes import ErrCode


def _pair() -> tuple[SessionLeases, SessionLeases]:
    directory = MemorySessionDirectory(lease_seconds=30.0)
    return (
        SessionLeases(directory, "n1", lease_seconds=30.0, advertise_url="http://n1"),
        SessionLeases(directory, "n2", lease_seconds=30.0, advertise_url="http://n2"),
    )


async def test_one_owner_at_a_time_and_fences_only_grow() -> None:
    n1, n2 = _pair()
    fence = await n1.acquire("s1")
    assert await n1.acquire("s1") == fence  # the holder extends its lease
    with pytest.raises(NotOwnerError) as err:
        await n2.acquire("s1")
    assert err.value.node_id == "n1"
    # n2 remembers where it runs: the next attempt does not ask the directory.
    assert n2.seen_elsewhere("s1") == "n1"
    await n1.release("s1", fence)
    assert n2.seen_elsewhere("s1") == "n1"  # until the memory lapses (a third of a lease)
    n3 = SessionLeases(n1.directory, "n3", lease_seconds=30.0)
    later = await n3.acquire("s1")
    assert later > fence


async def test_a_renewal_round_reports_the_leases_that_moved() -> None:
    n1, n2 = _pair()
    f1, f2 = await n1.acquire("s1"), await n1.acquire("s2")
    await n1.release("s2", f2)
    await n2.acquire("s2")
    lost: list[tuple[str, int]] = []

    async def on_lost(session_id: str, fence: int) -> None:
        lost.append((session_id, fence))

    await n1.renew([("s1", f1), ("s2", f2)], on_lost)
    assert lost == [("s2", f2)]
    assert await n1.directory.node_url("n1") == "http://n1"
    with pytest.raises(NotOwnerError):
        await n1.raise_if_elsewhere("s2")
    await n1.raise_if_elsewhere("s1")  # ours: no error


class _FlakyLog(MemoryEventLog):
    """A log that fails the next `failures` appends as Redis would, or fences every writer out."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.fenced = False

    async def append(
        self, session_id: str, event: str, data: str, *, marks: Sequence[Mark] = (), fence: Fence | None = None
    ) -> StoredEvent:
        if self.fenced:
            raise FencedOut(session_id)
        if self.failures:
            self.failures -= 1
            raise BridgeError(503, ErrCode.ServerInternalError, "Redis unavailable")
        return await super().append(session_id, event, data, marks=marks, fence=fence)


def _writer(log: _FlakyLog, give_up_after: float) -> tuple[SessionEventWriter, list[str]]:
    calls: list[str] = []
    n1, _ = _pair()
    writer = SessionEventWriter(
        log,
        n1,
        give_up_after=give_up_after,
        on_lost=lambda h, fence: calls.append(f"lost:{fence}"),
        on_stalled=lambda h, fence: calls.append(f"stalled:{fence}"),
    )
    return writer, calls


def _handle() -> SessionHandle:
    return SessionHandle(SessionRecord(SessionId("s1"), "u1", 5, "t", 0.0), fence=7)


async def test_writes_wait_out_a_short_outage_in_order() -> None:
    log = _FlakyLog()
    writer, calls = _writer(log, give_up_after=30.0)
    handle = _handle()
    log.failures = 2
    await writer.emit(handle, Event("L", "OnA", {"n": 1}, "op", (("c", 1),)))
    await writer.emit(handle, Event("L", "OnB", None, None))
    events = (await log.read_after("s1", 0)).events
    assert [e.event for e in events] == ["OnA", "OnB"] and calls == [] and writer.retried == 2
    assert await log.delivered("s1") == {"c": 1}


async def test_a_long_outage_drops_the_core_by_the_named_policy() -> None:
    log = _FlakyLog()
    writer, calls = _writer(log, give_up_after=0.2)
    log.failures = 1_000
    await writer.emit(_handle(), Event("L", "OnA", None, None))
    assert calls == ["stalled:7"] and writer.stalled == 1


async def test_a_fenced_out_writer_reports_the_lost_lease_at_once() -> None:
    log = _FlakyLog()
    writer, calls = _writer(log, give_up_after=30.0)
    log.fenced = True
    await writer.emit(_handle(), Event("L", "OnA", None, None))
    assert calls == ["lost:7"]
    assert (await log.read_after("s1", 0)).events == []


def test_event_data_is_compact_json_with_utf8_and_escaped_lone_surrogates() -> None:
    obj = {"listener": "OnAdvancedMsgListener", "data": {"text": "中é", "n": [1, 2.5, None, True], "k": {"1": "x"}}}
    assert (
        encode_data(obj)
        == '{"listener":"OnAdvancedMsgListener","data":{"text":"中é","n":[1,2.5,null,true],"k":{"1":"x"}}}'
    )
    assert json.loads(encode_data(obj)) == obj
    # No UTF-8 form: json's escape, which a client's JSON.parse reads back as it was.
    assert encode_data({"text": "a\ud800b"}) == '{"text":"a\\ud800b"}'
