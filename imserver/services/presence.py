"""Online status answered from the gateway hub's live connections.

OpenIM keeps online platforms in Redis (internal/rpc/user/online.go); imserver
is one process, so the hub's connection table is the truth.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.protocol.constants import OnlineState
from imserver.notify import HubPort
from imserver.services.sdkws import WireModel

__all__ = ["OnlineStatus", "PlatformStatus", "PresenceService", "UserOnlineDetail"]


class OnlineStatus(WireModel):
    """user.onlineStatus: status 1 online / 0 offline."""

    userID: str = ""
    status: int = 0
    platformIDs: list[int] | None = None


class PlatformStatus(WireModel):
    platformID: int = 0
    connID: str = ""
    isBackground: bool = False
    token: str = ""


class UserOnlineDetail(WireModel):
    """One element of `/user/get_users_online_status` (api/msggateway.go GetUsersOnlineStatus)."""

    userID: str = ""
    status: int = 0
    detailPlatformStatus: list[PlatformStatus] | None = None


class PresenceService:
    def __init__(self, hub: HubPort) -> None:
        self._hub = hub

    def statuses(self, user_ids: Sequence[str]) -> list[OnlineStatus]:
        result = []
        for user_id in user_ids:
            platforms = sorted(self._hub.online_platforms(user_id))
            result.append(
                OnlineStatus(
                    userID=user_id,
                    status=OnlineState.ONLINE if platforms else OnlineState.OFFLINE,
                    platformIDs=platforms or None,
                )
            )
        return result

    def details(self, user_ids: Sequence[str]) -> list[UserOnlineDetail]:
        # The hub exposes platforms only; connID/token stay empty (imserver never hands tokens out).
        return [
            UserOnlineDetail(
                userID=s.userID,
                status=s.status,
                detailPlatformStatus=[PlatformStatus(platformID=p) for p in s.platformIDs or []] or None,
            )
            for s in self.statuses(user_ids)
        ]
