"""SDK function modules; importing this package registers every function."""

from core.modules import auth, conversation, friend, group, message, message_create, user

__all__ = ["auth", "conversation", "friend", "group", "message", "message_create", "user"]
