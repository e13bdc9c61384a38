"""Login-state queries (open-im-sdk `auth` functions other than Login/Logout,
which the bridge's session endpoints own)."""

from __future__ import annotations

from core.modules.base import Module, NoParams
from core.registry import sdk_function

__all__ = ["AuthModule"]


class AuthModule(Module):
    @sdk_function("auth", "GetLoginStatus", NoParams, int, read_only=True)
    async def get_login_status(self, params: NoParams, operation_id: str) -> int:
        """Login status: 1 logged out, 2 logging in, 3 logged in (OpenIM v3.8)."""
        return int(self.core.status)

    @sdk_function("auth", "GetLoginUserID", NoParams, str, read_only=True)
    async def get_login_user_id(self, params: NoParams, operation_id: str) -> str:
        """The userID this session is logged in as."""
        return self.core.user_id
