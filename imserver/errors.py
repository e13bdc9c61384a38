"""One exception type for imserver: an OpenIM errCode plus detail."""

from __future__ import annotations

from core.protocol.errcodes import ErrCode

__all__ = ["ImError"]


class ImError(Exception):
    """A coded error answered as `{errCode, errMsg, errDlt}` (HTTP) or errCode/errMsg (WS)."""

    def __init__(self, code: ErrCode, detail: str = "") -> None:
        super().__init__(f"{code.name}: {detail}" if detail else code.name)
        self.code = code
        self.detail = detail
