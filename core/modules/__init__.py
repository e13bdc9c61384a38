"""SDK function modules; importing this package registers every function."""

from core.modules import (
    app_state,
    auth,
    conversation,
    friend,
    group,
    input_states,
    media,
    message,
    message_create,
    presence,
    third,
    user,
    user_commands,
)

__all__ = [
    "app_state",
    "auth",
    "conversation",
    "friend",
    "group",
    "input_states",
    "media",
    "message",
    "message_create",
    "presence",
    "third",
    "user",
    "user_commands",
]
