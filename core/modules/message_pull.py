"""Pulls of a conversation's seq range in batches that shrink to fit the read limit.

The SDK pulls 100 seqs per PullMessageBySeqs (WS 1002) request (openim-sdk-core
internal/interaction/msg_sync.go SplitPullMsgNum). The server bounds what a
client sends (51200 bytes a frame), not what it answers: 100 long messages may
make an answer larger than our read limit, which ends the connection
(core.transport.gateway.ReadLimitError). Asking for the same range again after
the redial would fail the same way, for ever. So a range that does not fit is
asked for again in halves, and the smaller batch is remembered for that
conversation; a single message that does not fit even alone is skipped (one log
line, a counter) so the sync moves past it instead of looping.

The server leaves a conversation out of its answer when it failed to read it
(internal/rpc/msg/sync_msg.go PullMessageBySeqs logs and `continue`s), and also
when the range holds nothing the user may read. `fetch` returns None for a
conversation left out; the pull stops there and says how far it got, so a
transient server error never moves the sync position past unread messages
(the caller knows from the per-user max seq whether anything was readable).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.protocol import openim_pb2 as pb
from core.transport.gateway import ReadLimitError

__all__ = ["PULL_BATCH", "Pulled", "RangePuller"]

log = logging.getLogger("openim.core.message")

PULL_BATCH = 100  # msg_sync.go SplitPullMsgNum
_REMEMBERED = 1000  # conversations whose smaller batch is kept
# A message that could not be read: counted as a deleted placeholder (status 4,
# openim-v3.md 2.5), which advances the sync position and is never delivered.
_UNREADABLE = 4
# Any frame over the limit ends the connection, a push as well as our answer, so a
# single seq is skipped only when its pull failed this many times in a row.
_STRIKES = 2

Fetch = Callable[[int, int], Awaitable[list[pb.MsgData] | None]]
Reconnected = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Pulled:
    """What a pull got, ascending by seq, and the last seq it covered (begin - 1: none)."""

    msgs: list[pb.MsgData] = field(default_factory=list)
    through: int = 0
    complete: bool = True  # False: the server left the conversation out of an answer


class RangePuller:
    """Splits [begin, end] into batches; shrinks them on ReadLimitError, never loops.

    Every ReadLimitError either halves the batch or, at one seq the second time in a
    row, skips that seq; after a skip the batch is back where this pull started (the
    descent may have been for that one message alone). So a pull ends after at most
    about (log2(PULL_BATCH) + 2) x (1 + seqs that do not fit alone) redials.
    """

    def __init__(self, reconnected: Reconnected) -> None:
        self._reconnected = reconnected
        self._batches: OrderedDict[str, int] = OrderedDict()
        self.skipped = 0  # messages too large to read even alone

    def batch_of(self, conv_id: str) -> int:
        return self._batches.get(conv_id, PULL_BATCH)

    def _set_batch(self, conv_id: str, size: int) -> None:
        self._batches[conv_id] = size
        self._batches.move_to_end(conv_id)
        while len(self._batches) > _REMEMBERED:
            self._batches.popitem(last=False)

    async def pull(self, conv_id: str, begin: int, end: int, fetch: Fetch) -> Pulled:
        """Every message `fetch` returns for [begin, end], up to the first answer without it."""
        out = Pulled(through=begin - 1)
        initial, strikes = self.batch_of(conv_id), 0
        while begin <= end:
            hi = min(end, begin + self.batch_of(conv_id) - 1)
            try:
                got = await fetch(begin, hi)
            except ReadLimitError as exc:
                if hi > begin:
                    size = (hi - begin + 1) // 2
                    self._set_batch(conv_id, size)
                    log.info("pull of %s [%d, %d] over %d bytes: batches of %d", conv_id, begin, hi, exc.limit, size)
                else:
                    strikes += 1
                    if strikes >= _STRIKES:
                        self.skipped += 1
                        log.warning("message %s seq %d alone is over %d bytes: skipped", conv_id, begin, exc.limit)
                        out.msgs.append(pb.MsgData(seq=begin, status=_UNREADABLE))
                        out.through = begin
                        begin, strikes = begin + 1, 0
                        self._set_batch(conv_id, initial)
                await self._reconnected()
                continue
            if got is None:
                out.complete = False
                break
            strikes = 0
            out.msgs.extend(m for m in got if begin <= m.seq <= hi)
            out.through = hi
            begin = hi + 1
        out.msgs.sort(key=lambda m: m.seq)
        return out
