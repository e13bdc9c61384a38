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
    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._cursors: OrderedDict[tuple[str, str], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cursors)

    def save(self, session_id: str, client_key: str, cursor: int) -> None:
        key = (session_id, client_key)
        self._cursors.pop(key, None)
        self._cursors[key] = cursor
        while len(self._cursors) > self._max:
            self._cursors.popitem(last=False)

    def take(self, session_id: str, client_key: str) -> int | None:
        return self._cursors.pop((session_id, client_key), None)
