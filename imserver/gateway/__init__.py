"""imserver's message gateway: the OpenIM v3.8 WebSocket (openim-v3.md section 2).

`start_gateway` serves it; `Hub` is the registry the HTTP API pushes and kicks through.
"""

from __future__ import annotations

from imserver.gateway.handshake import TokenClaims, TokenVerifier
from imserver.gateway.hub import Hub
from imserver.gateway.server import GatewayServer, start_gateway
from imserver.services.sending import NO_GROUP_CHAT, GroupChat, IsBlocked, never_blocked

__all__ = [
    "NO_GROUP_CHAT",
    "GatewayServer",
    "GroupChat",
    "Hub",
    "IsBlocked",
    "TokenClaims",
    "TokenVerifier",
    "never_blocked",
    "start_gateway",
]
