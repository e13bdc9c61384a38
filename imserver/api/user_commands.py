"""/user/process_user_command_* routes (open-im-server internal/api/router.go; protocol
user/user.proto processUserCommand*Req)."""

from __future__ import annotations

from imserver.api.request import GoRequest, Int32, require_fields
from imserver.api.routing import Call, ImRouter
from imserver.services.sdkws import WireModel

__all__ = ["router"]

router = ImRouter("/user")


class CommandReq(GoRequest):
    userID: str = ""
    type: Int32 = 0
    uuid: str = ""
    # openim.protobuf.StringValue: null or absent = not set
    value: str | dict[str, str] | None = None
    ex: str | dict[str, str] | None = None

    def check(self) -> None:
        require_fields(userID=self.userID)

    def text(self, name: str) -> str | None:
        raw: str | dict[str, str] | None = getattr(self, name)
        return raw.get("value", "") if isinstance(raw, dict) else raw


class CommandInfo(WireModel):
    type: int = 0
    createTime: int = 0
    uuid: str = ""
    value: str = ""
    ex: str = ""


class CommandListResp(WireModel):
    CommandResp: list[CommandInfo] | None = None


def _resp(commands: list[CommandInfo]) -> CommandListResp:
    return CommandListResp(CommandResp=commands)


@router.post("/process_user_command_add")
async def process_user_command_add(call: Call, req: CommandReq) -> None:
    call.check_access(req.userID)
    cmds = call.ctx.user_commands
    await cmds.add(call.op, req.userID, req.type, req.uuid, req.text("value") or "", req.text("ex") or "")


@router.post("/process_user_command_delete")
async def process_user_command_delete(call: Call, req: CommandReq) -> None:
    call.check_access(req.userID)
    await call.ctx.user_commands.delete(call.op, req.userID, req.type, req.uuid)


@router.post("/process_user_command_update")
async def process_user_command_update(call: Call, req: CommandReq) -> None:
    call.check_access(req.userID)
    await call.ctx.user_commands.update(call.op, req.userID, req.type, req.uuid, req.text("value"), req.text("ex"))


@router.post("/process_user_command_get")
async def process_user_command_get(call: Call, req: CommandReq) -> CommandListResp:
    call.check_access(req.userID)
    found = await call.ctx.user_commands.list(req.userID, req.type)
    return _resp([CommandInfo(type=c.type, createTime=c.create_time, uuid=c.uuid, value=c.value, ex=c.ex)
                  for c in found])  # fmt: skip


@router.post("/process_user_command_get_all")
async def process_user_command_get_all(call: Call, req: CommandReq) -> CommandListResp:
    call.check_access(req.userID)
    found = await call.ctx.user_commands.list(req.userID)
    return _resp([CommandInfo(type=c.type, createTime=c.create_time, uuid=c.uuid, value=c.value, ex=c.ex)
                  for c in found])  # fmt: skip
