"""Create*Message: build a MsgStruct locally, ready for SendMessage (openim-v3.md 5.6.1).

As in the SDK these run no upstream call; they stamp clientMsgID, createTime,
sender fields and the elem for the content type. Parameter shapes follow the
open-im-sdk (JS) objects, whose fields are the Go SDK's argument names.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import SdkError
from core.modules.base import Module, Params
from core.msgstruct import ELEM_FIELDS, MsgStruct
from core.protocol.constants import PARAM_MAX_LENGTH, ContentType, MsgFrom, MsgStatus
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function

__all__ = ["MessageCreateModule", "new_client_msg_id"]

MAX_TEXT = 10_000  # well under the gateway's 51200-byte frame limit (openim-v3.md 2.7)
_Str = Field(default="", max_length=2048)


def new_client_msg_id(user_id: str) -> str:
    """Unique per message: md5 of sender, time and randomness, as the SDK's GetMsgID."""
    seed = f"{user_id}{time.time_ns()}{secrets.token_hex(8)}"
    return hashlib.md5(seed.encode()).hexdigest()


class _Elem(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PictureBaseInfo(_Elem):
    uuid: str = _Str
    type: str = Field(default="", max_length=64)
    size: int = Field(default=0, ge=0)
    width: int = Field(default=0, ge=0)
    height: int = Field(default=0, ge=0)
    url: str = Field(min_length=1, max_length=2048)


class AtUserInfo(_Elem):
    atUserID: str = Field(min_length=1, max_length=64)
    groupNickname: str = Field(default="", max_length=255)


class CardInfo(_Elem):
    userID: str = Field(min_length=1, max_length=64)
    nickname: str = Field(default="", max_length=255)
    faceURL: str = _Str
    ex: str = _Str


class TextParams(Params):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class TextAtParams(Params):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    atUserIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)
    atUsersInfo: list[AtUserInfo] = Field(default_factory=list, max_length=1000)
    message: MsgStruct | None = Field(default=None, description="a message to quote")


class ImageByURLParams(Params):
    sourcePath: str = _Str
    sourcePicture: PictureBaseInfo
    bigPicture: PictureBaseInfo
    snapshotPicture: PictureBaseInfo


class SoundByURLParams(Params):
    uuid: str = _Str
    soundPath: str = _Str
    sourceUrl: str = Field(min_length=1, max_length=2048)
    dataSize: int = Field(default=0, ge=0)
    duration: int = Field(default=0, ge=0)
    soundType: str = Field(default="", max_length=64)


class VideoByURLParams(Params):
    videoPath: str = _Str
    duration: int = Field(default=0, ge=0)
    videoType: str = Field(default="", max_length=64)
    snapshotPath: str = _Str
    videoUUID: str = _Str
    videoUrl: str = Field(min_length=1, max_length=2048)
    videoSize: int = Field(default=0, ge=0)
    snapshotUUID: str = _Str
    snapshotSize: int = Field(default=0, ge=0)
    snapshotUrl: str = _Str
    snapshotWidth: int = Field(default=0, ge=0)
    snapshotHeight: int = Field(default=0, ge=0)
    snapshotType: str = Field(default="", max_length=64)


class FileByURLParams(Params):
    filePath: str = _Str
    fileName: str = Field(min_length=1, max_length=1024)
    uuid: str = _Str
    sourceUrl: str = Field(min_length=1, max_length=2048)
    fileSize: int = Field(default=0, ge=0)
    fileType: str = Field(default="", max_length=64)


class LocationParams(Params):
    description: str = Field(default="", max_length=MAX_TEXT)
    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)


class QuoteParams(Params):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    message: MsgStruct


class CardParams(Params):
    cardInfo: CardInfo


class CustomParams(Params):
    data: str = Field(max_length=MAX_TEXT)
    extension: str = Field(default="", max_length=MAX_TEXT)
    description: str = Field(default="", max_length=MAX_TEXT)


class FaceParams(Params):
    index: int = Field(ge=-1)
    data: str = Field(default="", max_length=MAX_TEXT)


class MergerParams(Params):
    messageList: list[MsgStruct] = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=1024)
    summaryList: list[str] = Field(default_factory=list, max_length=100)


class ForwardParams(Params):
    message: MsgStruct


def _quote(m: MsgStruct | None) -> dict[str, Any] | None:
    return m.out() if m is not None else None


class MessageCreateModule(Module):
    def _new(self, content_type: ContentType, elem: dict[str, Any]) -> MsgStruct:
        me = self.core.user.self_info
        msg = MsgStruct(
            clientMsgID=new_client_msg_id(self.me),
            createTime=int(time.time() * 1000),
            sendID=self.me,
            senderPlatformID=self.core.platform_id,
            senderNickname=me.nickname if me else "",
            senderFaceUrl=me.faceURL if me else "",
            msgFrom=MsgFrom.USER,
            contentType=int(content_type),
            status=MsgStatus.SENDING,
        )
        setattr(msg, ELEM_FIELDS[content_type], elem)
        return msg

    @sdk_function("message", "CreateTextMessage", TextParams, MsgStruct, read_only=True)
    async def create_text_message(self, p: TextParams, operation_id: str) -> MsgStruct:
        """A text message (contentType 101)."""
        return self._new(ContentType.TEXT, {"content": p.text})

    @sdk_function("message", "CreateTextAtMessage", TextAtParams, MsgStruct, read_only=True)
    async def create_text_at_message(self, p: TextAtParams, operation_id: str) -> MsgStruct:
        """A group text that @-mentions users ("AtAllTag" mentions everyone) (106)."""
        elem = {
            "text": p.text,
            "atUserList": p.atUserIDList,
            "atUsersInfo": [u.model_dump() for u in p.atUsersInfo],
            "quoteMessage": _quote(p.message),
            "isAtSelf": False,
        }
        return self._new(ContentType.AT_TEXT, elem)

    @sdk_function("message", "CreateImageMessageByURL", ImageByURLParams, MsgStruct, read_only=True)
    async def create_image_message_by_url(self, p: ImageByURLParams, operation_id: str) -> MsgStruct:
        """A picture already uploaded somewhere (102)."""
        return self._new(ContentType.PICTURE, p.model_dump())

    @sdk_function("message", "CreateSoundMessageByURL", SoundByURLParams, MsgStruct, read_only=True)
    async def create_sound_message_by_url(self, p: SoundByURLParams, operation_id: str) -> MsgStruct:
        """A voice clip already uploaded (103)."""
        return self._new(ContentType.VOICE, p.model_dump())

    @sdk_function("message", "CreateVideoMessageByURL", VideoByURLParams, MsgStruct, read_only=True)
    async def create_video_message_by_url(self, p: VideoByURLParams, operation_id: str) -> MsgStruct:
        """A video already uploaded (104)."""
        return self._new(ContentType.VIDEO, p.model_dump())

    @sdk_function("message", "CreateFileMessageByURL", FileByURLParams, MsgStruct, read_only=True)
    async def create_file_message_by_url(self, p: FileByURLParams, operation_id: str) -> MsgStruct:
        """A file already uploaded (105)."""
        return self._new(ContentType.FILE, p.model_dump())

    @sdk_function("message", "CreateLocationMessage", LocationParams, MsgStruct, read_only=True)
    async def create_location_message(self, p: LocationParams, operation_id: str) -> MsgStruct:
        """A location (109)."""
        return self._new(ContentType.LOCATION, p.model_dump())

    @sdk_function("message", "CreateQuoteMessage", QuoteParams, MsgStruct, read_only=True)
    async def create_quote_message(self, p: QuoteParams, operation_id: str) -> MsgStruct:
        """A reply quoting another message (114)."""
        return self._new(ContentType.QUOTE, {"text": p.text, "quoteMessage": _quote(p.message)})

    @sdk_function("message", "CreateCardMessage", CardParams, MsgStruct, read_only=True)
    async def create_card_message(self, p: CardParams, operation_id: str) -> MsgStruct:
        """A user's business card (108)."""
        return self._new(ContentType.CARD, p.cardInfo.model_dump())

    @sdk_function("message", "CreateCustomMessage", CustomParams, MsgStruct, read_only=True)
    async def create_custom_message(self, p: CustomParams, operation_id: str) -> MsgStruct:
        """An application-defined payload (110)."""
        return self._new(ContentType.CUSTOM, p.model_dump())

    @sdk_function("message", "CreateFaceMessage", FaceParams, MsgStruct, read_only=True)
    async def create_face_message(self, p: FaceParams, operation_id: str) -> MsgStruct:
        """A sticker / emoji (115)."""
        return self._new(ContentType.FACE, p.model_dump())

    @sdk_function("message", "CreateMergerMessage", MergerParams, MsgStruct, read_only=True)
    async def create_merger_message(self, p: MergerParams, operation_id: str) -> MsgStruct:
        """Several messages forwarded as one (107)."""
        elem = {
            "title": p.title,
            "abstractList": p.summaryList,
            "multiMessage": [m.out() for m in p.messageList],
            "messageEntityList": [],
        }
        return self._new(ContentType.MERGER, elem)

    @sdk_function("message", "CreateForwardMessage", ForwardParams, MsgStruct, read_only=True)
    async def create_forward_message(self, p: ForwardParams, operation_id: str) -> MsgStruct:
        """A copy of a message to send elsewhere: same content, new identity."""
        src = p.message
        elem = src.elem()
        if src.contentType not in ELEM_FIELDS or elem is None:
            raise SdkError(ErrCode.SdkArgsError, detail=f"cannot forward contentType {src.contentType}")
        return self._new(ContentType(src.contentType), dict(elem))
