"""SDK function modules; importing this package registers every function."""

from core.modules import auth, conversation, friend, message, message_create, user

__all__ = ["auth", "conversation", "friend", "message", "message_create", "user"]
