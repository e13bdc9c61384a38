"""Session directory (who is logged in, by hashed bridge token) and its backends."""

from bridge.sessions.base import SessionDirectory, SessionId, SessionRecord, hash_token, new_session_token
from bridge.sessions.memory import MemorySessionDirectory

__all__ = [
    "MemorySessionDirectory",
    "SessionDirectory",
    "SessionId",
    "SessionRecord",
    "hash_token",
    "new_session_token",
]
