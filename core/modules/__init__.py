"""SDK function modules; importing this package registers every function."""

from core.modules import auth, friend, user

__all__ = ["auth", "friend", "user"]
