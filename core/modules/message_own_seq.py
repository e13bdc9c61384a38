"""The seq of a message the user just sent, however late the server tells it.

SendMsg answers with serverMsgID and sendTime only (sdkws SendMsgResp); the seq is
assigned later, by msgtransfer, and the client learns it from its own copy pushed
back through the push service (open-im-server internal/msgtransfer, internal/push).
Under load that echo takes seconds. The SDK stores the message and reads the seq
from the echo when it arrives; functions that need it (RevokeMessage,
DeleteMessage, history from that message) must not fail because it is late.

So: wait for the echo a moment; if it has not come, pull the conversation up to
the server's max seq (which delivers the copy by seq, as a gap would) and wait
again, with the pause between pulls doubling; give up only after `deadline`
seconds, for a message that never gets a seq (not stored, or lost upstream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.errors import SdkError
from core.protocol.errcodes import ErrCode

__all__ = ["OwnSeqs"]

Known = Callable[[str], int]
CatchUp = Callable[[str, str], Awaitable[None]]

ECHO_GRACE = 0.25  # seconds to wait for the echo before the first pull
MAX_PAUSE = 4.0  # between later pulls
DEADLINE = 60.0  # for the seq of one message


class OwnSeqs:
    """Waiters for the seqs of own messages; `learned` resolves them."""

    def __init__(
        self,
        known: Known,
        catch_up: CatchUp,
        *,
        grace: float = ECHO_GRACE,
        max_pause: float = MAX_PAUSE,
        deadline: float = DEADLINE,
    ) -> None:
        self._known = known
        self._catch_up = catch_up
        self._grace = grace
        self._max_pause = max_pause
        self._deadline = deadline
        self._waiters: dict[str, asyncio.Future[int]] = {}

    def learned(self, client_msg_id: str, seq: int) -> None:
        """The seq of `client_msg_id` is now known (its echo or a pull delivered it)."""
        waiter = self._waiters.pop(client_msg_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(seq)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def seq_of(self, conv_id: str, client_msg_id: str, operation_id: str, deadline: float | None = None) -> int:
        """The seq of our message `client_msg_id` in `conv_id`; 10001 after `deadline` seconds."""
        loop = asyncio.get_running_loop()
        deadline = self._deadline if deadline is None else deadline
        give_up = loop.time() + deadline
        pause = self._grace
        while True:
            seq = self._known(client_msg_id)
            if seq:
                return seq
            waiter = self._waiters.get(client_msg_id)
            if waiter is None or waiter.done():
                waiter = self._waiters[client_msg_id] = loop.create_future()
            left = give_up - loop.time()
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), max(0.0, min(pause, left)))
            except TimeoutError:
                pass
            if loop.time() >= give_up:
                if not waiter.done():
                    self._waiters.pop(client_msg_id, None)
                raise SdkError(
                    ErrCode.NetworkTimeoutError,
                    detail=f"message {client_msg_id} got no seq within {deadline:.0f} s (not stored?)",
                )
            await self._catch_up(conv_id, operation_id)
            pause = min(pause * 2, self._max_pause)
