"""User commands and their OnUserListener callbacks (open_im_sdk/user.go AddUserCommand,
DeleteUserCommand, GetAllUserCommands; internal/user/api.go, full_sync.go).

Commands are the user's own typed entries (favourites, pins of an app's
choosing) kept on the server (`/user/process_user_command_*`). The core
keeps the list (in its checkpoint) and syncs it at login and on every
1305/1306/1307 notification; the differences fire OnUserCommandAdd,
OnUserCommandDelete and OnUserCommandUpdate with the command, as the SDK's
syncer does. (The Go SDK's notification handlers read `toUserID` from tips
they never decode, so they never sync; we sync, which is what they mean.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from core.events import USER
from core.modules.base import Module, Params
from core.protocol.constants import ContentType
from core.protocol.openim_pb2 import MsgData
from core.registry import sdk_function
from core.untrusted import integer, text

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["LocalUserCommand", "UserCommandModule"]

COMMAND_NOTIFICATIONS = (ContentType.USER_COMMAND_ADD, ContentType.USER_COMMAND_DELETE, ContentType.USER_COMMAND_UPDATE)


class LocalUserCommand(BaseModel):
    """model_struct.LocalUserCommand."""

    userID: str
    type: int
    uuid: str
    createTime: int = 0
    value: str = ""
    ex: str = ""


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("type must not be 0 (the server refuses it: type is empty)")
    return value


# The server's Check() refuses type 0 on add and delete (protocol user.pb "type is empty").
CommandType = Annotated[
    int, Field(ge=-(2**31), le=2**31 - 1, json_schema_extra={"not": {"const": 0}}), AfterValidator(_not_zero)
]


class AddCommandParams(Params):
    type: CommandType
    uuid: str = Field(min_length=1, max_length=255)
    value: str = Field(default="", max_length=4096)


class DeleteCommandParams(Params):
    type: CommandType
    uuid: str = Field(min_length=1, max_length=255)


class TypeParams(Params):
    type: int = Field(default=0, ge=-(2**31), le=2**31 - 1, description="0 = every type")


class UserCommandModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.commands: dict[tuple[int, str], LocalUserCommand] | None = None  # None: never synced

    def snapshot(self) -> dict[str, Any]:
        return {"commands": None if self.commands is None else [c.model_dump() for c in self.commands.values()]}

    def restore(self, data: dict[str, Any]) -> None:
        raw = data.get("commands")
        if isinstance(raw, list):
            cmds = [LocalUserCommand.model_validate(c) for c in raw]
            self.commands = {(c.type, c.uuid): c for c in cmds}

    async def sync(self, operation_id: str) -> None:
        data = await self.core.api.post("/user/process_user_command_get_all", {"userID": self.me}, operation_id)
        fresh: dict[tuple[int, str], LocalUserCommand] = {}
        for raw in (data or {}).get("CommandResp") or []:
            if isinstance(raw, dict):
                cmd = LocalUserCommand(userID=self.me, type=integer(raw, "type"), uuid=text(raw, "uuid"),
                                       createTime=integer(raw, "createTime"), value=text(raw, "value"),
                                       ex=text(raw, "ex"))  # fmt: skip
                fresh[(cmd.type, cmd.uuid)] = cmd
        old, self.commands = self.commands, fresh
        if old is None:
            self.core.checkpoint_dirty()
            return  # the first sync is the baseline, as a fresh install's full sync
        events = [("OnUserCommandDelete", c) for k, c in old.items() if k not in fresh]
        for k, c in fresh.items():
            if k not in old:
                events.append(("OnUserCommandAdd", c))
            elif old[k] != c:
                events.append(("OnUserCommandUpdate", c))
        for callback, cmd in events:
            await self.core.emit(USER, callback, cmd.model_dump(), operation_id)
        if events:
            self.core.checkpoint_dirty()

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        if msg.contentType in COMMAND_NOTIFICATIONS:
            await self.sync(operation_id)

    @sdk_function("user", "AddUserCommand", AddCommandParams, None)
    async def add_user_command(self, p: AddCommandParams, operation_id: str) -> None:
        """Add (or overwrite) a command of the login user; every device gets OnUserCommandAdd."""
        body = {"userID": self.me, "type": p.type, "uuid": p.uuid, "value": p.value}  # StringValue: bare
        await self.core.api.post("/user/process_user_command_add", body, operation_id)
        await self.sync(operation_id)

    @sdk_function("user", "DeleteUserCommand", DeleteCommandParams, None)
    async def delete_user_command(self, p: DeleteCommandParams, operation_id: str) -> None:
        """Delete a command; every device gets OnUserCommandDelete."""
        body = {"userID": self.me, "type": p.type, "uuid": p.uuid}
        await self.core.api.post("/user/process_user_command_delete", body, operation_id)
        await self.sync(operation_id)

    @sdk_function("user", "GetAllUserCommands", TypeParams, list[LocalUserCommand], read_only=True)
    async def get_all_user_commands(self, p: TypeParams, operation_id: str) -> list[LocalUserCommand]:
        """The login user's commands of one type (0: all), oldest first."""
        if self.commands is None:
            await self.sync(operation_id)
        cmds = sorted((self.commands or {}).values(), key=lambda c: (c.createTime, c.uuid))
        return [c for c in cmds if not p.type or c.type == p.type]
