"""A recording stand-in for the gateway hub (our own HubPort interface)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.protocol import openim_pb2

__all__ = ["Kick", "Push", "RecordingHub"]


@dataclass(frozen=True)
class Push:
    user_ids: tuple[str, ...]
    msg: openim_pb2.MsgData
    operation_id: str

    @property
    def tips(self) -> dict[str, Any]:
        """The tips object inside NotificationElem.detail."""
        detail: dict[str, Any] = json.loads(json.loads(self.msg.content)["detail"])
        return detail


@dataclass(frozen=True)
class Kick:
    user_id: str
    platform_id: int
    except_token: str | None


@dataclass
class RecordingHub:
    pushes: list[Push] = field(default_factory=list)
    kicks: list[Kick] = field(default_factory=list)
    online: dict[str, list[int]] = field(default_factory=dict)

    async def push(self, user_ids: Iterable[str], msg: openim_pb2.MsgData, operation_id: str) -> None:
        copy = openim_pb2.MsgData()
        copy.CopyFrom(msg)
        self.pushes.append(Push(tuple(user_ids), copy, operation_id))

    async def kick(self, user_id: str, platform_id: int, except_token: str | None = None) -> None:
        self.kicks.append(Kick(user_id, platform_id, except_token))

    def online_platforms(self, user_id: str) -> list[int]:
        return list(self.online.get(user_id, []))

    def for_operation(self, operation_id: str) -> list[Push]:
        return [p for p in self.pushes if p.operation_id == operation_id]
