"""Structured logs carrying operationID and userID, never tokens."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

from bridge.middleware import current_operation_id

__all__ = ["configure_logging", "current_user_id"]

current_user_id: ContextVar[str | None] = ContextVar("user_id", default=None)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        op = current_operation_id.get()
        user = current_user_id.get()
        if op:
            obj["operationID"] = op
        if user:
            obj["userID"] = user
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger("openim")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
