"""Push tokens, app badges and uploaded client logs (open-im-server internal/rpc/third/third.go, log.go).

OpenIM keeps FCM tokens and badge counts in Redis for its push service and
log records in MongoDB; imserver sends no offline pushes, so it keeps them
in memory, bounded, where /third/logs/search (admin) can read them back.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LogRecord", "ThirdService"]

_MAX_TOKENS = 100_000
_MAX_LOGS = 10_000


@dataclass(frozen=True, slots=True)
class LogRecord:
    user_id: str
    platform: int
    filename: str
    url: str
    create_time: int
    app_framework: str
    version: str
    ex: str


class ThirdService:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self.fcm_tokens: OrderedDict[tuple[str, int], tuple[str, int]] = OrderedDict()
        self.badges: OrderedDict[str, int] = OrderedDict()
        self.logs: deque[LogRecord] = deque(maxlen=_MAX_LOGS)

    def set_fcm_token(self, user_id: str, platform_id: int, token: str, expire_time: int) -> None:
        self.fcm_tokens[(user_id, platform_id)] = (token, expire_time)
        self.fcm_tokens.move_to_end((user_id, platform_id))
        while len(self.fcm_tokens) > _MAX_TOKENS:
            self.fcm_tokens.popitem(last=False)

    def set_badge(self, user_id: str, count: int) -> None:
        self.badges[user_id] = count
        self.badges.move_to_end(user_id)
        while len(self.badges) > _MAX_TOKENS:
            self.badges.popitem(last=False)

    def add_logs(self, user_id: str, platform: int, files: list[tuple[str, str]], framework: str, version: str,
                 ex: str) -> None:  # fmt: skip
        now = self._now_ms()
        for filename, url in files:
            self.logs.append(LogRecord(user_id, platform, filename, url, now, framework, version, ex))
