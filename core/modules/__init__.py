"""SDK function modules; importing this package registers every function."""

from core.modules import auth, conversation, friend, group, media, message, message_create, third, user

__all__ = ["auth", "conversation", "friend", "group", "media", "message", "message_create", "third", "user"]
