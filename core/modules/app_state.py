"""The SDK's init functions that are not the session's own (open_im_sdk/init_login.go):
GetSdkVersion, SetAppBackgroundStatus (gateway 2004), NetworkStatusChanged.

The app's background state also chooses the callbacks of arriving messages,
as conversation_msg.go does: in the background, a message of a conversation
that notifies (recvMsgOpt 0, the user's globalRecvMsgOpt 0) is reported by
OnRecvOfflineNewMessage (OnRecvOfflineNewMessages in batch mode) as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.errors import SdkError
from core.modules.base import Module, NoParams, Params
from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["SDK_VERSION", "AppStateModule"]

#: The openim-sdk-core release whose functions and callbacks the bridge implements (version/version).
SDK_VERSION = "v3.8.3-patch.14"


class BackgroundParams(Params):
    isBackground: bool = Field(description="true: the app went to the background")


class AppStateModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.background = False

    def snapshot(self) -> dict[str, Any]:
        return {"background": self.background}

    def restore(self, data: dict[str, Any]) -> None:
        self.background = bool(data.get("background"))
        if self.core.gateway is not None:
            self.core.gateway.background = self.background

    def offline_notify(self, conv_recv_opt: int) -> bool:
        """Is an arriving message of a conversation with this recvMsgOpt also an offline one?"""
        me = self.core.user.self_info
        return self.background and conv_recv_opt == 0 and (me is None or me.globalRecvMsgOpt == 0)

    @sdk_function("auth", "GetSdkVersion", NoParams, str, read_only=True)
    async def get_sdk_version(self, p: NoParams, operation_id: str) -> str:
        """The OpenIM SDK release whose API this bridge implements."""
        return SDK_VERSION

    @sdk_function("auth", "SetAppBackgroundStatus", BackgroundParams, None)
    async def set_app_background_status(self, p: BackgroundParams, operation_id: str) -> None:
        """Tell the server the app went to the background or came back (gateway 2004)."""
        gw = self.core.gateway
        if gw is None:
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        self.background = p.isBackground
        gw.background = p.isBackground
        self.core.checkpoint_dirty()
        req = pb.SetAppBackgroundStatusReq(userID=self.me, isBackground=p.isBackground)
        await gw.request(ReqIdentifier.SET_BACKGROUND_STATUS, req.SerializeToString(), operation_id)

    @sdk_function("auth", "NetworkStatusChanged", NoParams, None)
    async def network_status_changed(self, p: NoParams, operation_id: str) -> None:
        """The device's network changed: reconnect now (then sync what was missed)."""
        gw = self.core.gateway
        if gw is None:
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        await gw.drop_connection()
        await gw.wait_connected()
