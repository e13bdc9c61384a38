"""Structured logs carrying operationID and userID, never tokens.

Every line of the process goes through one handler in one format: JSON
objects (default) or plain text (`--log-format text`), uvicorn's and the
imserver's lines included, so a log shipper never meets a mixed stream.
A record's `fields` extra (a dict) is merged into its JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

from bridge.middleware import current_operation_id

__all__ = ["LOG_FORMATS", "configure_logging", "current_user_id", "log_fields", "session_fields"]

current_user_id: ContextVar[str | None] = ContextVar("user_id", default=None)
LOG_FORMATS = ("json", "text")


def log_fields(**fields: Any) -> dict[str, Any]:
    """`extra=` for a record whose fields go into the JSON object: `log.info("x", extra=log_fields(a=1))`."""
    return {"fields": fields}


def session_fields(handle: Any, **more: Any) -> dict[str, Any]:
    """`extra=` for a line about a session (a SessionHandle): its id prefix, user and platform as fields."""
    record = handle.record
    return log_fields(sessionID=handle.session_id[:8], userID=record.user_id, platformID=record.platform_id, **more)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    op = current_operation_id.get()
    user = current_user_id.get()
    if op:
        obj["operationID"] = op
    if user:
        obj["userID"] = user
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        obj.update(fields)
    return obj


def _ts(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {"ts": _ts(record), "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        obj.update(_context(record))
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{_ts(record)} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line += f"  {extra}" if extra else ""
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    if fmt not in LOG_FORMATS:
        raise ValueError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]  # uvicorn, imserver, libraries: same handler, same format
    root.setLevel(logging.WARNING)
    ours = logging.getLogger("openim")
    ours.handlers[:] = [handler]
    ours.setLevel(level.upper())
    ours.propagate = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
