"""Bridge settings: from `BRIDGE_*` environment variables and CLI flags, read once."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bridge.cors import check_origin

__all__ = ["BridgeSettings"]


def _default_node_id() -> str:
    """Unique per process, readable in logs: host, pid, and a random tail for pid reuse."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _check_url(name: str, url: str | None, schemes: tuple[str, ...]) -> None:
    if url is None:
        return
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes or not rest.strip("/"):
        raise ValueError(f"{name} must be a {' or '.join(s + '://' for s in schemes)} URL, got {_safe(url)!r}")


def _safe(url: str) -> str:
    """The URL without its password (never echo a secret into logs or terminals)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"
    return url


@dataclass(slots=True)
class BridgeSettings:
    host: str = "127.0.0.1"
    port: int = 10008
    data_dir: Path = field(default_factory=lambda: Path("./data"))
    # Upstream OpenIM server; both unset -> the embedded imserver is started.
    upstream_api: str | None = None
    upstream_ws: str | None = None
    imserver_api_port: int = 10002
    imserver_ws_port: int = 10001
    # The embedded imserver's admin and token-signing secret; None -> generated on first
    # start and kept in <data_dir>/imserver/secret (issue 10). Never in repr or logs.
    imserver_secret: str | None = field(default=None, repr=False)
    # Checkpoints, and without Redis the session directory, event logs and call
    # outcomes too (issue 12); None -> SQLite file bridge.db under data_dir.
    database_url: str | None = None
    # Keep sessions, event logs and outcomes in memory only, forgotten at exit
    # (tests, throwaway runs); ignored in cluster mode (redis_url).
    ephemeral: bool = False
    # Commits of those stores: "normal" survives the bridge process (kill -9), "full"
    # waits for the disk at every (group) commit and survives a crash of the database
    # host too (bridge/sqlstore/database.py).
    database_sync: str = "normal"
    # Session pool
    idle_park_seconds: float = 300.0
    sweep_interval: float = 5.0
    max_live_cores: int = 10_000
    login_timeout: float = 15.0
    # The upstream's administrator user IDs (OpenIM share.yml imAdminUserID): no session for them.
    admin_user_ids: tuple[str, ...] = ("imAdmin",)
    # Valid bridge tokens one session keeps; each login mints one, the oldest is revoked past this.
    max_tokens_per_session: int = 8
    # Pushes a core queues before its overflow policy (drop-and-resync) applies (core.core.CoreConfig).
    core_inbox_size: int = 10_000
    # "freeze": freeze long-lived objects after start-up and login batches, fewer young
    # collections (bridge/gc_policy.py); "time": only time the collector's pauses (/metrics);
    # "off": leave the GC alone. `openim-bridge serve` (it owns the process) uses "freeze".
    gc_policy: str = "off"
    # Upstream API calls to a plain-http upstream: "lean" (core/transport/http1_pool.py, a
    # fraction of httpx's CPU per call, issue 14) or "httpx". https upstreams always use httpx.
    upstream_client: str = "lean"
    # Open SSE streams, waiting long-polls and oimws sockets per session and node (429 past it).
    max_streams_per_session: int = 8
    ended_session_memory: float = 24 * 3600.0
    ended_log_grace: float = 300.0
    # Calls
    idempotency_window: float = 600.0
    max_body_bytes: int = 1 << 20
    # POST /v1/third/upload_file (multipart): the largest request (413 past it) and the
    # content types it takes (415 otherwise; "image/" matches every image type; empty: any).
    upload_max_bytes: int = 100 << 20
    upload_content_types: tuple[str, ...] = ()
    # Client input limits (README "Limits"). Request line + header fields: 16 KiB
    # like Node.js and h11 (nginx allows 4 x 8 KiB), far above a bearer token plus
    # cookies. A request head must arrive within header_timeout (Apache
    # mod_reqtimeout: 20 s) and its body within body_timeout (1 MiB in 60 s is
    # 17 KB/s). JSON from clients (REST bodies, /ws frames) nests at most
    # json_max_depth levels; no SDK parameter model is deeper than about 6.
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 20.0
    body_timeout: float = 60.0
    json_max_depth: int = 64
    # Events
    event_max: int = 10_000
    event_max_age: float = 24 * 3600.0
    # How long a core waits for an unwritable event log (Redis down) before it is
    # dropped and revived later from its checkpoint (bridge/event_writer.py).
    event_write_timeout: float = 30.0
    # Bytes of event data one session's log keeps (oldest trimmed first, like
    # event_max). Measured: a short text costs ~1.7 KB over its three events
    # (message 0.5 KB, conversation 1 KB, unread count), so 8 MiB holds about the
    # 10,000 events of event_max for ordinary chat; a 10 KB text costs ~21 KB,
    # so ~390 of those rather than 210 MB per receiving session.
    event_max_bytes: int = 8 << 20
    sse_keepalive: float = 15.0
    sse_retry_ms: int = 3000
    # Streams end cleanly (event streamEnd with the cursor) after this long; 0: never.
    # ?maxSeconds= overrides it per stream (mini-programs: under wx.request's 60 s).
    sse_max_seconds: float = 0.0
    poll_max_wait: float = 30.0
    # oimws-compatible WebSocket (/ws): its own port too when non-zero (oimws used
    # 10003); frames queued per connection before producers wait; largest request frame.
    oimws_port: int = 0
    oimws_send_queue: int = 256
    oimws_max_frame_bytes: int = 1 << 20
    # Cluster mode (DESIGN.md): set -> session directory and event logs in Redis,
    # shared by every node; keys under redis_prefix; node_id names this node.
    redis_url: str | None = None
    redis_prefix: str = "oimb:"
    node_id: str = field(default_factory=_default_node_id)
    # The owner of a session renews its lease every lease_seconds/3; a node that
    # dies holds its sessions at most this long before another node takes over.
    lease_seconds: float = 15.0
    # Where other nodes reach this one to forward calls for sessions it owns;
    # None -> the bound address (http://host:port, the host name for 0.0.0.0).
    advertise_url: str | None = None
    # Browser origins allowed to call the bridge (CORS, bridge/cors.py); empty -> none.
    cors_origins: tuple[str, ...] = ()
    # Webhooks (bridge/webhooks.py): every session's events to the operator's URL,
    # signed with its secret; per-session URLs (PUT /v1/session/webhook) to loopback,
    # link-local or private addresses only when allowed. Failed POSTs are retried
    # with backoff from webhook_retry_base up to webhook_retry_cap seconds.
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_allow_private: bool = False
    webhook_max_attempts: int = 8
    webhook_retry_base: float = 1.0
    webhook_retry_cap: float = 60.0
    webhook_timeout: float = 10.0
    webhook_scan_interval: float = 1.0
    # SIGTERM: stop taking sessions, end streams, wait this long for in-flight calls.
    drain_seconds: float = 20.0
    # Monotonic clock, injected by tests.
    clock: Callable[[], float] = time.monotonic

    @property
    def embedded(self) -> bool:
        return not (self.upstream_api or self.upstream_ws)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'bridge.db').resolve()}"

    def validate(self) -> None:
        if bool(self.upstream_api) != bool(self.upstream_ws):
            raise ValueError("set both BRIDGE_UPSTREAM_API and BRIDGE_UPSTREAM_WS, or neither")
        if self.max_live_cores < 1:
            raise ValueError("max_live_cores must be at least 1")
        if not self.node_id or any(c.isspace() for c in self.node_id):
            raise ValueError(f"node_id must be non-empty without spaces, got {self.node_id!r}")
        if self.lease_seconds <= 0 or self.drain_seconds < 0:
            raise ValueError("lease_seconds must be > 0 and drain_seconds >= 0")
        # Caught here with the variable's name, not as a traceback from deep in start-up.
        _check_url("BRIDGE_UPSTREAM_API", self.upstream_api, ("http", "https"))
        _check_url("BRIDGE_UPSTREAM_WS", self.upstream_ws, ("ws", "wss"))
        _check_url("BRIDGE_ADVERTISE_URL", self.advertise_url, ("http", "https"))
        redis_schemes = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")
        _check_url("BRIDGE_REDIS_URL", self.redis_url, redis_schemes)
        _check_url("BRIDGE_DATABASE_URL", self.database_url, ("postgresql+asyncpg", "sqlite+aiosqlite"))
        if self.max_tokens_per_session < 1 or self.max_streams_per_session < 1:
            raise ValueError("max_tokens_per_session and max_streams_per_session must be at least 1")
        if self.max_header_bytes < 1024 or self.json_max_depth < 1 or self.event_max_bytes < 1:
            raise ValueError("max_header_bytes must be >= 1024, json_max_depth and event_max_bytes >= 1")
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ValueError("header_timeout and body_timeout must be > 0")
        if self.database_sync not in ("normal", "full"):
            raise ValueError(f"BRIDGE_DATABASE_SYNC must be normal or full, got {self.database_sync!r}")
        _check_url("BRIDGE_WEBHOOK_URL", self.webhook_url, ("http", "https"))
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("BRIDGE_WEBHOOK_URL needs BRIDGE_WEBHOOK_SECRET (receivers verify the signature with it)")
        if self.webhook_max_attempts < 1 or self.webhook_retry_base <= 0 or self.webhook_scan_interval <= 0:
            raise ValueError("webhook_max_attempts must be >= 1, webhook_retry_base and webhook_scan_interval > 0")
        for origin in self.cors_origins:
            check_origin(origin)
        if self.upstream_client not in ("lean", "httpx"):
            raise ValueError(f"upstream_client must be lean or httpx, got {self.upstream_client!r}")
        if self.gc_policy not in ("off", "time", "freeze"):
            raise ValueError(f"gc_policy must be off, time or freeze, got {self.gc_policy!r}")
        if self.oimws_send_queue < 1 or self.oimws_max_frame_bytes < 1:
            raise ValueError("oimws_send_queue and oimws_max_frame_bytes must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> BridgeSettings:
        """`BRIDGE_<FIELD>` variables (upper case), then explicit overrides (CLI flags)."""
        env = os.environ if env is None else env
        base = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"BRIDGE_{f.name.upper()}")
            if raw is None or f.name == "clock":
                continue
            current = getattr(base, f.name)
            if isinstance(current, tuple):
                values[f.name] = tuple(item.strip() for item in raw.split(",") if item.strip())
            elif isinstance(current, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes")
            elif isinstance(current, int):
                values[f.name] = int(raw)
            elif isinstance(current, float):
                values[f.name] = float(raw)
            elif isinstance(current, Path):
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw or None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(base, **values)
        settings.validate()
        return settings
