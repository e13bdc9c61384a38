"""The imserver leaves idle keep-alive connections to its clients to close, as open-im-server does.

With both at 5 s (uvicorn's default, httpx's pool expiry) a request the bridge wrote on an
idle connection as the imserver's timer fired was reset: `502 NetworkError ReadError()` on a
login under load (1 in ~500 requests idle ~5 s; bench/cost.py's 1,000-session logins)."""

from __future__ import annotations

import httpx

from imserver.server import KEEP_ALIVE_SECONDS


def test_the_imserver_keeps_idle_connections_longer_than_the_bridges_pool() -> None:
    # bridge/app.py's upstream client leaves keepalive_expiry at httpx's default; a Go client
    # (http.DefaultTransport) keeps an idle connection 90 s.
    expiry = httpx.Limits(max_connections=200, max_keepalive_connections=50).keepalive_expiry
    assert expiry is not None
    assert max(expiry, 90.0) < KEEP_ALIVE_SECONDS
