"""Which per-session webhook URLs the bridge will POST to (no SSRF).

A session's owner is any user with a token; letting them point the bridge at
loopback, link-local (cloud metadata at 169.254.169.254) or private ranges
would let them probe the operator's network. Those are refused unless the
operator allows them (BRIDGE_WEBHOOK_ALLOW_PRIVATE). The host is resolved when
the URL is set; the operator's own BRIDGE_WEBHOOK_URL is trusted as given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from bridge.errors import BridgeError
from core.protocol.errcodes import ErrCode

__all__ = ["check_webhook_url"]


def _bad(detail: str) -> BridgeError:
    return BridgeError(400, ErrCode.ArgsError, detail)


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Raise 400 naming the problem unless `url` is an http(s) URL to a public address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad(f"url: not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("url: must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise _bad("url: must not carry credentials; the signature authenticates the bridge")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise _bad(f"url: host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not addr.is_global or addr.is_multicast:
            raise _bad(
                f"url: host {parts.hostname!r} is a loopback, link-local or private address ({addr}); "
                "the operator can allow those with BRIDGE_WEBHOOK_ALLOW_PRIVATE"
            )
