"""Create{Image,Sound,Video,File}Message and their ...FromFullPath forms (openim-v3.8
open_im_sdk/conversation_msg.go; internal/conversation_msg/create_message.go).

In the SDK the path names a file on the device, and SendMessage uploads it.
A bridge client uploads first (`POST /v1/third/upload_file`, multipart), and
the path it passes here is the `url` that upload answered: the element is
built from the stored object (size, type; an image's width and height), with
the URLs filled in as SendMessage fills them after its upload (api.go
sendMessageToServer: bigPicture = sourcePicture, snapshot = the URL with
`type=image&width=640&height=640`). The FromFullPath forms take the same
URLs; a remote client has no other kind of full path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field

from core.media import ObjectFacts, inspect_object, is_object_url
from core.modules.base import Module, Params
from core.msgstruct import MsgStruct
from core.protocol.constants import ContentType
from core.registry import sdk_function

__all__ = ["MediaModule", "fill_uploaded_urls"]

_Path = Field(min_length=1, max_length=2048, description="the url answered by POST /v1/third/upload_file")


class ImagePathParams(Params):
    imagePath: str = _Path


class ImageFullPathParams(Params):
    imageFullPath: str = _Path


class SoundPathParams(Params):
    soundPath: str = _Path
    duration: int = Field(default=0, ge=0, description="seconds")


class VideoPathParams(Params):
    videoPath: str = _Path
    videoType: str = Field(default="", max_length=64)
    duration: int = Field(default=0, ge=0, description="seconds")
    snapshotPath: str = Field(default="", max_length=2048, description="an uploaded image's url, or empty")


class VideoFullPathParams(Params):
    videoFullPath: str = _Path
    videoType: str = Field(default="", max_length=64)
    duration: int = Field(default=0, ge=0)
    snapshotFullPath: str = Field(default="", max_length=2048)


class FilePathParams(Params):
    filePath: str = _Path
    fileName: str = Field(default="", max_length=1024)


class FileFullPathParams(Params):
    fileFullPath: str = _Path
    fileName: str = Field(default="", max_length=1024)


def _snapshot_url(url: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("type", "image"), ("width", "640"), ("height", "640")]
    return urlunsplit((*parts[:3], urlencode(query), parts.fragment))


def _ext(url: str) -> str:
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _picture(f: ObjectFacts) -> dict[str, Any]:
    return {"uuid": "", "type": f.content_type or f"image/{f.image_format}", "size": f.size,
            "width": f.width, "height": f.height, "url": f.url}  # fmt: skip


def fill_uploaded_urls(msg: MsgStruct, api_base: str) -> None:
    """SendMessage: a media element whose path is an uploaded object but whose URL is
    empty gets that URL, as the SDK's send fills it after uploading the path."""
    if msg.pictureElem and is_object_url(str(msg.pictureElem.get("sourcePath") or ""), api_base):
        src = msg.pictureElem.get("sourcePicture") or {}
        if isinstance(src, dict) and not src.get("url"):
            src = {**src, "url": msg.pictureElem["sourcePath"]}
            snapshot = {"width": 640, "height": 640, "url": _snapshot_url(src["url"])}
            msg.pictureElem = {**msg.pictureElem, "sourcePicture": src, "bigPicture": src, "snapshotPicture": snapshot}
    for elem, path_key, url_key in (
        (msg.soundElem, "soundPath", "sourceUrl"),
        (msg.videoElem, "videoPath", "videoUrl"),
        (msg.videoElem, "snapshotPath", "snapshotUrl"),
        (msg.fileElem, "filePath", "sourceUrl"),
    ):
        if elem and not elem.get(url_key) and is_object_url(str(elem.get(path_key) or ""), api_base):
            elem[url_key] = elem[path_key]


class MediaModule(Module):
    async def _facts(self, url: str, image: bool) -> ObjectFacts:
        return await inspect_object(self.core.api.http, url, self.core.api.base_url, image=image)

    async def _image(self, path: str) -> MsgStruct:
        f = await self._facts(path, image=True)
        pic = _picture(f)
        elem = {"sourcePath": path, "sourcePicture": pic, "bigPicture": pic,
                "snapshotPicture": {**pic, "width": 640, "height": 640, "url": _snapshot_url(f.url)}}  # fmt: skip
        return self.core.message._new(ContentType.PICTURE, elem)

    async def _sound(self, path: str, duration: int) -> MsgStruct:
        f = await self._facts(path, image=False)
        ext = _ext(path)
        elem = {"uuid": "", "soundPath": path, "sourceUrl": f.url, "dataSize": f.size, "duration": duration,
                "soundType": f.content_type or (f"audio/{ext}" if ext else "")}  # fmt: skip
        return self.core.message._new(ContentType.VOICE, elem)

    async def _video(self, path: str, video_type: str, duration: int, snapshot: str) -> MsgStruct:
        f = await self._facts(path, image=False)
        elem: dict[str, Any] = {"videoPath": path, "videoUUID": "", "videoUrl": f.url,
                                "videoType": video_type or f.content_type, "videoSize": f.size,
                                "duration": duration, "snapshotPath": snapshot, "snapshotUUID": "",
                                "snapshotSize": 0, "snapshotUrl": "", "snapshotWidth": 0, "snapshotHeight": 0,
                                "snapshotType": ""}  # fmt: skip
        if snapshot:
            s = await self._facts(snapshot, image=True)
            elem.update(snapshotUrl=s.url, snapshotSize=s.size, snapshotWidth=s.width, snapshotHeight=s.height,
                        snapshotType=s.content_type or f"image/{s.image_format}")  # fmt: skip
        return self.core.message._new(ContentType.VIDEO, elem)

    async def _file(self, path: str, name: str) -> MsgStruct:
        f = await self._facts(path, image=False)
        file_name = name or urlsplit(path).path.rsplit("/", 1)[-1]
        elem = {"filePath": path, "uuid": "", "sourceUrl": f.url, "fileName": file_name, "fileSize": f.size,
                "fileType": f.content_type}  # fmt: skip
        return self.core.message._new(ContentType.FILE, elem)

    @sdk_function("message", "CreateImageMessage", ImagePathParams, MsgStruct, read_only=True)
    async def create_image_message(self, p: ImagePathParams, operation_id: str) -> MsgStruct:
        """A picture (102) from an uploaded image: width, height and type read from it."""
        return await self._image(p.imagePath)

    @sdk_function("message", "CreateImageMessageFromFullPath", ImageFullPathParams, MsgStruct, read_only=True)
    async def create_image_message_from_full_path(self, p: ImageFullPathParams, operation_id: str) -> MsgStruct:
        """CreateImageMessage; for a bridge client the full path is the upload's url too."""
        return await self._image(p.imageFullPath)

    @sdk_function("message", "CreateSoundMessage", SoundPathParams, MsgStruct, read_only=True)
    async def create_sound_message(self, p: SoundPathParams, operation_id: str) -> MsgStruct:
        """A voice clip (103) from an uploaded sound file."""
        return await self._sound(p.soundPath, p.duration)

    @sdk_function("message", "CreateSoundMessageFromFullPath", SoundPathParams, MsgStruct, read_only=True)
    async def create_sound_message_from_full_path(self, p: SoundPathParams, operation_id: str) -> MsgStruct:
        """CreateSoundMessage; the path is the upload's url."""
        return await self._sound(p.soundPath, p.duration)

    @sdk_function("message", "CreateVideoMessage", VideoPathParams, MsgStruct, read_only=True)
    async def create_video_message(self, p: VideoPathParams, operation_id: str) -> MsgStruct:
        """A video (104) from an uploaded video and, optionally, an uploaded snapshot image."""
        return await self._video(p.videoPath, p.videoType, p.duration, p.snapshotPath)

    @sdk_function("message", "CreateVideoMessageFromFullPath", VideoFullPathParams, MsgStruct, read_only=True)
    async def create_video_message_from_full_path(self, p: VideoFullPathParams, operation_id: str) -> MsgStruct:
        """CreateVideoMessage; the paths are the uploads' urls."""
        return await self._video(p.videoFullPath, p.videoType, p.duration, p.snapshotFullPath)

    @sdk_function("message", "CreateFileMessage", FilePathParams, MsgStruct, read_only=True)
    async def create_file_message(self, p: FilePathParams, operation_id: str) -> MsgStruct:
        """A file (105) from an uploaded file; fileName defaults to the object's name."""
        return await self._file(p.filePath, p.fileName)

    @sdk_function("message", "CreateFileMessageFromFullPath", FileFullPathParams, MsgStruct, read_only=True)
    async def create_file_message_from_full_path(self, p: FileFullPathParams, operation_id: str) -> MsgStruct:
        """CreateFileMessage; the path is the upload's url."""
        return await self._file(p.fileFullPath, p.fileName)
