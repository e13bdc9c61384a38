"""The oimws-compatible WebSocket face: existing `open-im-sdk` mini-program apps, unchanged.

Modules: `wire` (frames, no I/O), `catalog` (the client's function names),
`argmap` (positional arguments -> registry parameter models), `outbox`
(bounded send queue), `pump` (event log -> socket), `resume` (reconnect
cursors), `connection` (one socket's session state machine), `endpoint`
(the `/ws` route and the dedicated-port app).
"""

from bridge.oimws.endpoint import OIMWS_PATH, OimwsState, install_oimws, oimws_app
from bridge.oimws.outbox import OVERFLOW_POLICY, OimwsStats

__all__ = ["OIMWS_PATH", "OVERFLOW_POLICY", "OimwsState", "OimwsStats", "install_oimws", "oimws_app"]
