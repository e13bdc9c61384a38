"""imserver settings: one object, read once, passed down (no module globals)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImServerSettings"]


@dataclass(slots=True)
class ImServerSettings:
    # share.yml secret: admits /auth/get_admin_token and signs every token (HS256).
    # Empty -> run_imserver uses the one kept in data_dir/secret, generated on first
    # start (imserver/secret.py); never OpenIM's published "openIM123" unless set (issue 10).
    secret: str = field(default="", repr=False)
    # OpenIM defaults: imAdminUserID, ports 10002 / 10001.
    admin_user_ids: tuple[str, ...] = ("imAdmin",)
    host: str = "127.0.0.1"
    api_port: int = 10002
    ws_port: int = 10001
    data_dir: Path = field(default_factory=lambda: Path("./data"))
    # None -> SQLite file imserver.db under data_dir; else any SQLAlchemy async URL
    # (e.g. postgresql+asyncpg://...).
    database_url: str | None = None
    token_expire_seconds: int = 90 * 24 * 3600
    # share.yml multiLogin.policy (1 = AllLoginButSameTermKick) and maxNumOneEnd.
    multi_login_policy: int = 1
    max_tokens_one_end: int = 30
    max_body_bytes: int = 1 << 20
    # OpenIM's gin middleware answers every origin with `Access-Control-Allow-Origin: *`
    # (imserver/api/cors.py). Off by default: any web page could then fetch an admin token
    # from a loopback imserver. On only for browser clients served from another origin.
    cors_any_origin: bool = False
    # Message gateway (openim-v3.md 2.7): openim-msggateway.yml websocketMaxConnNum,
    # internal/msggateway/constant.go pongWait (read deadline) and pingPeriod (Web only).
    ws_max_conn_num: int = 100000
    # internal/msggateway/constant.go maxMessageSize, applied with SetReadLimit: a larger
    # client frame is answered with close 1009 and the connection dropped.
    ws_max_message_bytes: int = 51200
    ws_read_timeout: float = 30.0
    ws_ping_interval: float = 27.0
    # openim-rpc-group.yml enableHistoryForNewMembers. OpenIM ships `true` (a new member
    # pulls the group's whole history); imserver defaults to False: a member who joins
    # sees the group chat from the join on (issue 4; openim-v3.md 8 left this open).
    group_history_for_new_members: bool = False
    # Test knobs for the real server's timing and failures (issue 13), off by default.
    # On OpenIM the sender's own copy of a message comes back through Kafka, msgtransfer
    # and the push service, after SendMsg answered: under load, seconds later. Each own
    # copy (the push to the sender's connections) is held back a random 0..this seconds.
    own_copy_push_delay: float = 0.0
    # Conversations whose reads fail as a transient storage error would: a pull (1002)
    # leaves them out of its answer with errCode 0, as sync_msg.go PullMessageBySeqs
    # logs the error and `continue`s. A set a test may change while the server runs.
    pull_faults: set[str] = field(default_factory=set)
    # On OpenIM the members of a dismissed group are removed only after 1511 went out
    # (push_handler.go defers DismissGroup(deleteMember=true)): a member's sync can run in
    # between and still list the group. When set, the removal waits for this event.
    dismiss_removal_hold: asyncio.Event | None = None
    # Injected wall clock (seconds since epoch) so tests can expire tokens.
    clock: Callable[[], float] = time.time

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'imserver.db').resolve()}"

    def now_ms(self) -> int:
        return int(self.clock() * 1000)
