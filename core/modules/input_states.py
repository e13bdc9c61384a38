"""Typing state per conversation: ChangeInputStates, GetInputStates and
OnConversationUserInputStatusChanged (openim-sdk-core internal/conversation_msg/entering.go).

ChangeInputStates sends an online-only typing message (contentType 113,
typingElem.msgTips "yes" / "no"), at most one "yes" per conversation every
10 s and a "no" only after a "yes". A peer's typing message marks
(conversation, user, platform) as typing for 10 s (a later "yes" extends
it); a "no", or the mark running out 15 s after it was set, clears it. Every
set and clear fires OnConversationUserInputStatusChanged with the platforms
the user types on now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import Field

from core.errors import SdkError
from core.events import CONVERSATION
from core.modules.base import Module, Params
from core.msgstruct import MsgStruct, to_msgdata
from core.protocol.constants import ContentType, LoginStatus, ReqIdentifier
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["InputStatesModule"]

_SEND_INTERVAL = 10.0  # inputStatesSendTime
_TIMEOUT = _SEND_INTERVAL * 1.5  # inputStatesTimeout
_MAX_STATES = 10_000  # marks kept per session (peers choose how many they send)
_ONLINE_ONLY = {
    k: False
    for k in ("history", "persistent", "senderSync", "conversationUpdate", "senderConversationUpdate",
              "unreadCount", "offlinePush")
}  # fmt: skip

_Key = tuple[str, str, int]  # conversationID, userID, platformID


class ChangeInputParams(Params):
    conversationID: str = Field(min_length=1, max_length=256)
    focus: bool = Field(description="true: typing (the input box has focus)")


class GetInputParams(Params):
    conversationID: str = Field(min_length=1, max_length=256)
    userID: str = Field(min_length=1, max_length=64)


class InputStatesModule(Module):
    def __init__(self, core: Core, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(core)
        self._clock = clock
        self._sent: dict[str, tuple[bool, float]] = {}  # conversationID -> (focus, until)
        self._marks: dict[_Key, float] = {}  # -> expires at
        self._timers: dict[_Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def platforms(self, conv_id: str, user_id: str) -> list[int]:
        now = self._clock()
        return sorted(p for (c, u, p), until in self._marks.items() if c == conv_id and u == user_id and until > now)

    async def _changed(self, conv_id: str, user_id: str, operation_id: str | None) -> None:
        data = {"conversationID": conv_id, "userID": user_id, "platformIDs": self.platforms(conv_id, user_id)}
        await self.core.emit(CONVERSATION, "OnConversationUserInputStatusChanged", data, operation_id)

    def _expire_later(self, key: _Key) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(_TIMEOUT, self._expired, key)

    def _expired(self, key: _Key) -> None:
        self._timers.pop(key, None)
        if self._marks.pop(key, None) is None or self.core.status != LoginStatus.LOGGED:
            return
        task = asyncio.create_task(self._changed(key[0], key[1], None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_typing(self, msg: MsgStruct, conv_id: str, operation_id: str) -> None:
        """A peer's typing message (entering.go onNewMsg)."""
        if msg.sendID == self.me or not conv_id:
            return
        key = (conv_id, msg.sendID, msg.senderPlatformID)
        typing = (msg.typingElem or {}).get("msgTips") == "yes"
        known = self._marks.get(key, 0.0) > self._clock()
        if typing:
            if not known and len(self._marks) >= _MAX_STATES:
                return
            self._marks[key] = self._clock() + _SEND_INTERVAL
            self._expire_later(key)
            if not known:
                await self._changed(conv_id, msg.sendID, operation_id)
        elif self._marks.pop(key, None) is not None:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            await self._changed(conv_id, msg.sendID, operation_id)

    @sdk_function("conversation", "ChangeInputStates", ChangeInputParams, None)
    async def change_input_states(self, p: ChangeInputParams, operation_id: str) -> None:
        """Tell the conversation's peers the user starts (focus) or stops typing."""
        conv = self.core.conversation.convs.get(p.conversationID)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {p.conversationID} not found")
        now = self._clock()
        last = self._sent.get(p.conversationID)
        if last is not None and last[1] > now and last[0] == p.focus:
            return  # the same state was sent within the interval
        if not p.focus and last is None:
            return  # nothing to end
        self._sent[p.conversationID] = (p.focus, now + _SEND_INTERVAL)
        msg = self.core.message._new(ContentType.TYPING, {"msgTips": "yes" if p.focus else "no"})
        msg.sessionType, msg.recvID, msg.groupID = conv.conversationType, conv.userID, conv.groupID
        self.core.message._bounded_add(self.core.message._sent, msg.clientMsgID)
        try:
            await self.core.message._ws(ReqIdentifier.SEND_MSG, to_msgdata(msg, _ONLINE_ONLY), operation_id)
        except SdkError:
            self._sent.pop(p.conversationID, None)
            raise

    @sdk_function("conversation", "GetInputStates", GetInputParams, list[int], read_only=True)
    async def get_input_states(self, p: GetInputParams, operation_id: str) -> list[int]:
        """The platforms on which `userID` is typing in the conversation now."""
        return self.platforms(p.conversationID, p.userID)
