"""Where a dropped oimws connection stopped reading, so its reconnect loses nothing.

open-im-sdk reconnects by itself after a network loss (5 s, up to 10 times)
and sends `Login` again on the new socket, with the same connect URL, hence
the same `operationID` query parameter (src/api/index.ts `login`,
`handleReconnectSuccess`). oimws rebuilt a whole SDK for the new socket, which
re-synced and so reported what changed meanwhile; the bridge keeps the core,
so instead it remembers the last event id written to the old socket under
(session, connect operationID) and the new connection replays the session's
event log from there. Bounded: the oldest entries go first; an entry is used
once. In-process only (a reconnect that lands on another node starts fresh).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["ResumeCursors"]


class ResumeCursors:
    """(session, connect operationID) -> cursor, at most `max_entries` in all and `per_session`
    per session, each bound dropping the oldest. The per-session one is what keeps the table
    fair: the connect operationID is the client's to choose, so a single session reconnecting
    under new ones would otherwise push every other session's cursors out (their reconnects
    would then start from now and miss events). A session holds at most
    BRIDGE_MAX_STREAMS_PER_SESSION (8) sockets at once, so 16 leaves room for each's reconnect."""

    def __init__(self, max_entries: int = 10_000, per_session: int = 16) -> None:
        self._max = max_entries
        self._per_session = per_session
        self._order: OrderedDict[tuple[str, str], None] = OrderedDict()  # every entry, oldest first
        self._sessions: dict[str, OrderedDict[str, int]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def save(self, session_id: str, client_key: str, cursor: int) -> None:
        own = self._sessions.setdefault(session_id, OrderedDict())
        own.pop(client_key, None)
        self._order.pop((session_id, client_key), None)
        own[client_key] = cursor
        self._order[(session_id, client_key)] = None
        if len(own) > self._per_session:
            oldest, _ = own.popitem(last=False)
            del self._order[(session_id, oldest)]
        while len(self._order) > self._max:
            (sid, key), _ = self._order.popitem(last=False)
            self._drop(sid, key)

    def take(self, session_id: str, client_key: str) -> int | None:
        if self._order.pop((session_id, client_key), 0) is not None:
            return None  # not there (a present entry's value is None)
        return self._drop(session_id, client_key)

    def _drop(self, session_id: str, client_key: str) -> int | None:
        own = self._sessions.get(session_id)
        cursor = own.pop(client_key, None) if own is not None else None
        if own is not None and not own:
            del self._sessions[session_id]
        return cursor
