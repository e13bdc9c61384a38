"""What a finished call left behind (:class:`Outcome`), and where outcomes are kept.

An outcome is data, not a live exception object, so every backend stores the
same thing and a replay builds a fresh exception of the first one's type with
the first one's fields: the HTTP answer (status, errCode, errMsg, detail,
headers) and the oimws frame are the same as the first time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bridge.errors import BridgeError, status_for
from core.errors import SdkError
from core.protocol.errcodes import ErrCode

__all__ = ["INTERNAL_ERROR", "MAX_OUTCOME_BYTES", "Outcome", "OutcomeStore", "RecordedError"]


# Outcomes larger than this, encoded, are not kept: a retry runs the call again. The client
# chooses operationIDs, so each distinct one of a call answering megabytes (a history page) was a
# copy kept for the window, bounded only by the rate. Only reads answer that much, and they may
# run again; a send is deduped by the server on its clientMsgID. Every store checks it.
MAX_OUTCOME_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class RecordedError:
    """A failed call's error: a :class:`BridgeError` (``sdk`` False) or an :class:`SdkError`."""

    status: int
    code: int
    msg: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    sdk: bool = False

    @classmethod
    def of(cls, exc: Exception) -> RecordedError:
        if isinstance(exc, BridgeError):
            return cls(exc.status, exc.code, exc.msg, exc.detail, dict(exc.headers))
        if isinstance(exc, SdkError):
            return cls(status_for(exc.code), exc.code, exc.msg, exc.detail, sdk=True)
        # A bug: the client saw the generic 500 of bridge.errors' catch-all
        # handler; a replay answers exactly that (and does not run it again).
        return INTERNAL_ERROR

    def exception(self) -> BridgeError | SdkError:
        if self.sdk:
            return SdkError(self.code, self.msg, self.detail)
        return BridgeError(self.status, self.code, self.detail, msg=self.msg, headers=dict(self.headers))


#: What an unexpected exception is recorded as: bridge.errors' catch-all answer.
INTERNAL_ERROR = RecordedError(500, ErrCode.ServerInternalError, ErrCode.ServerInternalError.name, "internal error")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: ``result`` (JSON-able) when ``error`` is None, else the error."""

    path: str
    result: Any = None
    error: RecordedError | None = None

    def replay(self) -> Any:
        """The result, or raise a fresh copy of the error."""
        if self.error is not None:
            _raise(self.error)
        return self.result


def _raise(error: RecordedError) -> NoReturn:
    raise error.exception()


class OutcomeStore(ABC):
    """Finished calls' outcomes by (session id, operationID), each kept for the window."""

    @abstractmethod
    async def get(self, session_id: str, operation_id: str) -> Outcome | None:
        """The recorded outcome, or None (never recorded, or the window passed)."""

    @abstractmethod
    async def put(self, session_id: str, operation_id: str, outcome: Outcome) -> None:
        """Record ``outcome`` for the window; an outcome already recorded is kept (first wins)."""
