"""Names of the log entries the bridge writes itself (not listener callbacks).

They sit next to the callbacks in a session's log, so every reader (SSE,
long-poll, oimws, webhooks) and every writer (the pool, the call service)
takes them from here.
"""

from __future__ import annotations

__all__ = ["CALL_RESULT_EVENT", "RESET_EVENT", "SESSION_CLOSED_EVENT"]

#: Sent when a cursor fell off the log: the client must re-fetch state.
RESET_EVENT = "reset"
#: The last event of a session's stream (logout, kick, token expiry).
SESSION_CLOSED_EVENT = "sessionClosed"
#: The outcome of a `Prefer: respond-async` call.
CALL_RESULT_EVENT = "callResult"
