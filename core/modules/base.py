"""What every SDK module gets from its core, and helpers they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from core.protocol.openim_pb2 import MsgData
from core.untrusted import load_json

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["Module", "NoParams", "Params", "diff_by_key", "tips_of"]


class Params(BaseModel):
    """Base of every parameter model: unknown keys are refused, naming the key.

    Strict, so a value is taken only as the JSON type the spec names: lax mode
    would read `{"count": false}` as 0 and `"5"` as 5, which the OpenAPI
    schema (integer) says are wrong (issue 16). Nested models keep their own
    config: a message passed back (send_message) is the bridge's own output.
    """

    model_config = ConfigDict(extra="forbid", strict=True)


class NoParams(Params):
    pass


class Module:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def me(self) -> str:
        return self.core.user_id

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, data: dict[str, Any]) -> None:
        return None

    async def sync(self, operation_id: str) -> None:
        return None

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        return None


def tips_of(msg: MsgData) -> dict[str, Any]:
    """The tips object of a notification: content `{"detail": "<tips JSON>"}` (openim-v3.md 7.3).

    Tips carry what peers wrote (names, reasons, ex): anything that does not
    parse as an object reads as `{}`; read its fields with core.untrusted.
    """
    try:
        content = load_json(msg.content) if msg.content else {}
        detail = content.get("detail") if isinstance(content, dict) else None
        tips = load_json(detail) if isinstance(detail, str) and detail else detail
    except ValueError:
        return {}
    return tips if isinstance(tips, dict) else {}


def diff_by_key(
    old: dict[str, Any], new: dict[str, Any], added: str, deleted: str, changed: str | None
) -> list[tuple[str, Any]]:
    """Listener callbacks that turn `old` into `new`: deletions first, then additions and changes."""
    out: list[tuple[str, Any]] = [(deleted, v) for k, v in old.items() if k not in new]
    for k, v in new.items():
        if k not in old:
            out.append((added, v))
        elif changed and old[k] != v:
            out.append((changed, v))
    return out
