"""Per-session event logs that SSE streams, long-polls and webhooks read from."""

from .base import DEFAULT_READ_LIMIT, Entry, EventLog, Fence, FencedOut, Mark, ReadResult, StoredEvent
from .memory import MemoryEventLog

__all__ = [
    "DEFAULT_READ_LIMIT",
    "Entry",
    "EventLog",
    "Fence",
    "FencedOut",
    "Mark",
    "MemoryEventLog",
    "ReadResult",
    "StoredEvent",
]
