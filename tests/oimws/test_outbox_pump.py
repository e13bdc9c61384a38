"""The send queue's overflow policy and the event pump, without sockets."""

from __future__ import annotations

import asyncio
import json

from bridge.eventlog import MemoryEventLog
from bridge.oimws.outbox import OimwsStats, Outbox
from bridge.oimws.pump import BACKLOG_CLOSE_CODE, EventPump
from bridge.sse import SESSION_CLOSED_EVENT


class _Sink:
    """A socket stand-in: records frames and the close; `gate` holds sends while cleared."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, text: str) -> None:
        await self.gate.wait()
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self) -> list[str]:
        return [json.loads(f)["event"] for f in self.frames]


async def test_full_queue_blocks_the_producer_and_counts_it() -> None:
    stats, sink = OimwsStats(), _Sink()
    sink.gate.clear()  # the peer reads nothing
    box = Outbox(2, stats)
    writer = asyncio.create_task(box.run(sink.send, sink.close))
    await box.put("a")
    await asyncio.sleep(0)  # the writer takes "a" and waits in send
    await box.put("b")
    await box.put("c")
    assert box.qsize() == 2 and stats.queue_full_waits == 0
    blocked = asyncio.create_task(box.put("d"))
    await asyncio.sleep(0)
    assert not blocked.done() and stats.queue_full_waits == 1 and box.qsize() == 2
    sink.gate.set()
    await blocked
    await box.close(4000, "bye")
    await box.put("ignored after close")
    await writer
    assert sink.frames == ["a", "b", "c", "d"] and sink.closed == (4000, "bye")
    assert stats.frames_sent == 4


def _listener(callback: str, data: object, op: str | None = None) -> str:
    obj: dict[str, object] = {"listener": "L", "callback": callback, "data": data}
    if op:
        obj["operationID"] = op
    return json.dumps(obj)


async def _pump(log: MemoryEventLog, cursor: int, queue: int = 8) -> tuple[EventPump, _Sink, OimwsStats]:
    stats, sink = OimwsStats(), _Sink()
    box = Outbox(queue, stats)
    pump = EventPump(log, "s1", cursor, box, stats)
    writer = asyncio.create_task(box.run(sink.send, sink.close))
    await asyncio.wait_for(asyncio.gather(pump.run(), writer), 5)
    return pump, sink, stats


async def test_pump_forwards_listener_events_then_answers_logout_and_closes() -> None:
    log = MemoryEventLog()
    await log.append("s1", "OnConnecting", _listener("OnConnecting", None))
    await log.append("s1", "OnFriendAdded", _listener("OnFriendAdded", {"userID": "u2"}, "op1"))
    await log.append("s1", "callResult", json.dumps({"operationID": "x", "errCode": 0, "data": None}))
    closed = {"reason": "logout", "errCode": 10101, "operationID": "op-bye"}
    await log.append("s1", SESSION_CLOSED_EVENT, json.dumps(closed))
    pump, sink, _ = await _pump(log, 0)
    assert sink.events() == ["OnConnecting", "OnFriendAdded", "Logout"]
    bye = json.loads(sink.frames[-1])
    assert (bye["errCode"], bye["data"], bye["operationID"]) == (0, '""', "op-bye")
    assert sink.closed == (1000, "logout")
    assert pump.session_closed and pump.stopped and pump.delivered == 4
    await pump.wait_delivered(99)  # a stopped pump never keeps an answer waiting


async def test_pump_closes_after_the_kick_event() -> None:
    log = MemoryEventLog()
    await log.append("s1", "OnKickedOffline", _listener("OnKickedOffline", None))
    await log.append("s1", SESSION_CLOSED_EVENT, json.dumps({"reason": "kicked", "errCode": 1506}))
    _, sink, _ = await _pump(log, 0)
    assert sink.events() == ["OnKickedOffline"] and sink.closed == (1000, "kicked")


async def test_pump_behind_retention_reports_connect_failed_and_closes() -> None:
    log = MemoryEventLog(max_events=2)
    for i in range(5):
        await log.append("s1", "OnFriendAdded", _listener("OnFriendAdded", {"userID": f"u{i}"}))
    pump, sink, stats = await _pump(log, 1)
    assert sink.events() == ["OnConnectFailed"] and sink.closed == (
        BACKLOG_CLOSE_CODE,
        "event backlog exceeded retention",
    )
    failed = json.loads(sink.frames[0])
    assert failed["errCode"] == 10000 and "(2 events)" in failed["errMsg"]
    assert pump.lagged_out and stats.backlog_resets == 1


async def test_new_messages_go_out_as_batches_as_with_oimws_batch_listener() -> None:
    log = MemoryEventLog()
    for item in ("m1", "m2"):
        await log.append("s1", "OnRecvNewMessage", _listener("OnRecvNewMessage", {"clientMsgID": item}))
    await log.append("s1", "OnConversationChanged", _listener("OnConversationChanged", [{"conversationID": "c"}]))
    await log.append("s1", "OnRecvNewMessage", _listener("OnRecvNewMessage", {"clientMsgID": "m3"}))
    await log.append("s1", SESSION_CLOSED_EVENT, json.dumps({"reason": "kicked", "errCode": 1506}))
    pump, sink, _ = await _pump(log, 0)
    assert sink.events() == ["OnRecvNewMessages", "OnConversationChanged", "OnRecvNewMessages"]
    batches = [json.loads(json.loads(f)["data"]) for f in sink.frames]
    assert batches[0] == [{"clientMsgID": "m1"}, {"clientMsgID": "m2"}]
    assert batches[2] == [{"clientMsgID": "m3"}]
    assert pump.delivered == 5
