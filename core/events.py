"""Listener callbacks as values: what a core emits and the sink it emits into."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ADVANCED_MSG",
    "CONN",
    "CONVERSATION",
    "CUSTOM_BUSINESS",
    "FRIENDSHIP",
    "USER",
    "BatchSink",
    "Event",
    "EventSink",
    "applying",
]

# Listener names as the OpenIM SDKs name them (open-im-sdk src/constant/callback.ts).
CONN = "OnConnListener"
FRIENDSHIP = "OnFriendshipListener"
USER = "OnUserListener"
CONVERSATION = "OnConversationListener"
ADVANCED_MSG = "OnAdvancedMsgListener"
CUSTOM_BUSINESS = "OnCustomBusinessListener"


@dataclass(frozen=True, slots=True)
class Event:
    """One listener callback: `OnFriendAdded` of `OnFriendshipListener` with its payload.

    `operation_id` is the operationID of the call (or server operation) that
    caused it, so a client can match its own call to the events it produced.
    """

    listener: str
    callback: str
    data: Any
    operation_id: str | None = None
    # (conversationID, seq) of the messages this event delivers: a log that
    # records them knows how far delivery got, so a core revived elsewhere after
    # a crash resumes there instead of from its last checkpoint (no repeats).
    marks: tuple[tuple[str, int], ...] = ()

    def to_json_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"listener": self.listener, "callback": self.callback}
        if self.operation_id:
            obj["operationID"] = self.operation_id
        obj["data"] = self.data
        return obj


# Awaited in emission order; a core never emits two events concurrently.
EventSink = Callable[[Event], Awaitable[None]]

#: Events in emission order and delivery progress no event carries (the sender's own
#: messages coming back), written together: the event log stores them in one append
#: (one commit on SQL, one transaction on Redis) and returns once they are durable.
#: A dispatcher batch sends its events this way (issue 14: one commit per push, not four).
BatchSink = Callable[[Sequence[Event], tuple[tuple[str, int], ...]], Awaitable[None]]

#: The (conversationID, seq) the current task is applying: events it fires carry
#: it as their mark (Event.marks). A context variable, so a call running in
#: another task meanwhile never borrows the dispatch task's mark.
applying: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("applying", default=None)
