"""Keep tokens out of logs: the gateway URL carries `token=` in its query (openim-v3.md 2.1).

websockets logs the handshake request line at DEBUG; both our client (core)
and our server (imserver) hand it a logger with this filter.
"""

from __future__ import annotations

import logging
import re

__all__ = ["TokenRedactingFilter", "redact_tokens", "redacting_logger"]

_TOKEN = re.compile(r"(?i)(token=|\btoken[\"']?\s*[:=]\s*[\"']?|bearer\s+)[^&\s\"',]+")


def redact_tokens(text: str) -> str:
    return _TOKEN.sub(r"\1<redacted>", text)


class TokenRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redacting_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
        logger.addFilter(TokenRedactingFilter())
    return logger
