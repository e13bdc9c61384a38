"""v3.8 message creation with rich-text entities: CreateAdvancedTextMessage,
CreateAdvancedQuoteMessage, and GetAtAllTag (internal/conversation_msg/create_message.go).

A message entity marks a span of the text (offset, length) with a type the
app chooses (link, bold, mention ...) and optional url / ex
(sdk_struct.MessageEntity).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.modules.base import Module, NoParams, Params
from core.modules.message_create import MAX_TEXT
from core.msgstruct import MsgStruct
from core.protocol.constants import ContentType
from core.registry import sdk_function

__all__ = ["AT_ALL_TAG", "MessageAdvancedModule", "MessageEntity"]

#: constant.AtAllString: put in atUserIDList to mention everyone.
AT_ALL_TAG = "AtAllTag"


class MessageEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="", max_length=64)
    offset: int = Field(ge=0)
    length: int = Field(ge=0)
    url: str = Field(default="", max_length=2048)
    ex: str = Field(default="", max_length=4096)


class AdvancedTextParams(Params):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    messageEntityList: list[MessageEntity] = Field(default_factory=list, max_length=1000)


class AdvancedQuoteParams(Params):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    message: MsgStruct
    messageEntityList: list[MessageEntity] = Field(default_factory=list, max_length=1000)


def _entities(items: list[MessageEntity]) -> list[dict[str, object]]:
    # omitempty on type, url, ex (sdk_struct.go)
    return [{k: v for k, v in e.model_dump().items() if v != "" or k in ("offset", "length")} for e in items]


class MessageAdvancedModule(Module):
    @sdk_function("message", "CreateAdvancedTextMessage", AdvancedTextParams, MsgStruct, read_only=True)
    async def create_advanced_text_message(self, p: AdvancedTextParams, operation_id: str) -> MsgStruct:
        """A text with marked spans (contentType 117)."""
        elem = {"text": p.text, "messageEntityList": _entities(p.messageEntityList)}
        return self.core.message._new(ContentType.ADVANCED_TEXT, elem)

    @sdk_function("message", "CreateAdvancedQuoteMessage", AdvancedQuoteParams, MsgStruct, read_only=True)
    async def create_advanced_quote_message(self, p: AdvancedQuoteParams, operation_id: str) -> MsgStruct:
        """A reply quoting a message, with marked spans (114); a quoted quote becomes its text."""
        quoted = p.message.model_copy(deep=True)
        if quoted.contentType == ContentType.QUOTE:  # avoid nested quotes, as the SDK
            quoted.contentType = int(ContentType.TEXT)
            quoted.textElem = {"content": str((quoted.quoteElem or {}).get("text", ""))}
            quoted.quoteElem = None
        elem = {"text": p.text, "quoteMessage": quoted.out(), "messageEntityList": _entities(p.messageEntityList)}
        return self.core.message._new(ContentType.QUOTE, elem)

    @sdk_function("message", "GetAtAllTag", NoParams, str, read_only=True)
    async def get_at_all_tag(self, p: NoParams, operation_id: str) -> str:
        """The userID that mentions everyone in CreateTextAtMessage's atUserIDList."""
        return AT_ALL_TAG
