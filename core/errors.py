"""The one exception type of core: an OpenIM errCode (server or SDK-local) and text."""

from __future__ import annotations

from core.protocol.errcodes import ErrCode

__all__ = ["CheckpointUnavailable", "SdkError"]


class SdkError(Exception):
    """A failed SDK call, carrying OpenIM's `errCode` / `errMsg` and a detail.

    Server errCodes pass through unchanged (openim-sdk-core does the same), so a
    caller can tell `1304 RelationshipAlreadyError` from `10004 not logged in`.
    """

    def __init__(self, code: int, msg: str = "", detail: str = "") -> None:
        if not msg:
            try:
                msg = ErrCode(code).name
            except ValueError:
                msg = "UnknownError"
        super().__init__(f"{code} {msg}: {detail}" if detail else f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.detail = detail


class CheckpointUnavailable(Exception):
    """The checkpoint database cannot be read or written (its driver's error is the cause).

    Raised by core.checkpoint.CheckpointStore in place of SQLAlchemy's and the
    drivers' own errors, so callers handle one core error, not a library's.
    """
