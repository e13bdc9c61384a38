"""Tables of the user/relation/group/auth side of imserver (all on `imserver.db.Base`).

Shapes follow OpenIM's storage models (openimsdk/open-im-server
pkg/common/storage/model: user.go, friend.go, friend_request.go, black.go,
version_log.go, group.go, group_member.go, group_request.go) with MongoDB
documents turned into rows. Times are stored as
Unix milliseconds taken from the injected settings clock; the wire converts
them (some OpenIM responses use seconds, see services/sdkws.py).

The message side (seqs, messages, conversations) lives in imserver/msgstore.py.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from imserver.db import Base

__all__ = [
    "BlackRow",
    "ConversationRow",
    "FriendRequestRow",
    "FriendRow",
    "GroupMemberRow",
    "GroupRequestRow",
    "GroupRow",
    "TokenRow",
    "UserRow",
    "VersionEntryRow",
    "VersionLogRow",
]

_ID = String(255)


class UserRow(Base):
    __tablename__ = "im_users"

    user_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    nickname: Mapped[str] = mapped_column(Text, default="")
    face_url: Mapped[str] = mapped_column(Text, default="")
    ex: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    app_manger_level: Mapped[int] = mapped_column(Integer, default=0)
    global_recv_msg_opt: Mapped[int] = mapped_column(Integer, default=0)


class FriendRow(Base):
    """One direction of a friendship: `friend_user_id` is in `owner_user_id`'s list.

    `id` keeps insertion order, OpenIM's secondary sort key (`_id` ascending
    after `is_pinned` descending, mgo/friend.go friendSort).
    """

    __tablename__ = "im_friends"
    __table_args__ = (
        UniqueConstraint("owner_user_id", "friend_user_id", name="uq_im_friends_owner_friend"),
        Index("ix_im_friends_friend", "friend_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_user_id: Mapped[str] = mapped_column(_ID)
    friend_user_id: Mapped[str] = mapped_column(_ID)
    remark: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    add_source: Mapped[int] = mapped_column(Integer, default=0)
    operator_user_id: Mapped[str] = mapped_column(_ID, default="")
    ex: Mapped[str] = mapped_column(Text, default="")
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class FriendRequestRow(Base):
    __tablename__ = "im_friend_requests"
    __table_args__ = (
        UniqueConstraint("from_user_id", "to_user_id", name="uq_im_friend_requests_from_to"),
        Index("ix_im_friend_requests_to", "to_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_user_id: Mapped[str] = mapped_column(_ID)
    to_user_id: Mapped[str] = mapped_column(_ID)
    handle_result: Mapped[int] = mapped_column(Integer, default=0)
    req_msg: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    handler_user_id: Mapped[str] = mapped_column(_ID, default="")
    handle_msg: Mapped[str] = mapped_column(Text, default="")
    handle_time: Mapped[int] = mapped_column(BigInteger, default=0)
    ex: Mapped[str] = mapped_column(Text, default="")


class BlackRow(Base):
    __tablename__ = "im_blacks"
    __table_args__ = (UniqueConstraint("owner_user_id", "block_user_id", name="uq_im_blacks_owner_block"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_user_id: Mapped[str] = mapped_column(_ID)
    block_user_id: Mapped[str] = mapped_column(_ID)
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    add_source: Mapped[int] = mapped_column(Integer, default=0)
    operator_user_id: Mapped[str] = mapped_column(_ID, default="")
    ex: Mapped[str] = mapped_column(Text, default="")


class TokenRow(Base):
    """OpenIM's per-(user, platform) token map (redis `UID_PID_TOKEN_STATUS:`).

    Keyed by the SHA-256 of the token so the table never holds a usable token.
    """

    __tablename__ = "im_tokens"
    __table_args__ = (Index("ix_im_tokens_user_platform", "user_id", "platform_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(_ID)
    platform_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[int] = mapped_column(Integer, default=0)
    expire_at: Mapped[int] = mapped_column(BigInteger)
    issued_at_ms: Mapped[int] = mapped_column(BigInteger)


class VersionLogRow(Base):
    """Head of one incremental-sync log (OpenIM model.VersionLogTable).

    `table_name` names the synced collection ("friends", "blacks", ...),
    `d_id` its owner; `version_id` is an ObjectID-shaped 24-hex id created
    once per log, `version` grows by one per change batch.
    """

    __tablename__ = "im_version_logs"
    __table_args__ = (UniqueConstraint("table_name", "d_id", name="uq_im_version_logs_table_did"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(64))
    d_id: Mapped[str] = mapped_column(_ID)
    version_id: Mapped[str] = mapped_column(String(24))
    version: Mapped[int] = mapped_column(BigInteger)
    last_update: Mapped[int] = mapped_column(BigInteger)


class VersionEntryRow(Base):
    """Latest change of one element in a log (OpenIM model.VersionLogElem).

    One row per (log, e_id): a newer change replaces the older one, as the
    MongoDB pipeline in mgo/version_log.go writeLogBatch2 does.
    """

    __tablename__ = "im_version_entries"
    __table_args__ = (UniqueConstraint("log_id", "e_id", name="uq_im_version_entries_log_eid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("im_version_logs.id", ondelete="CASCADE"))
    e_id: Mapped[str] = mapped_column(_ID)
    state: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(BigInteger)


class ConversationRow(Base):
    """A user's settings for one conversation (OpenIM model.Conversation).

    Rows appear when the user changes a setting, or when a sync first sees a
    conversation that message storage (imserver/msgstore.py) created.
    """

    __tablename__ = "im_conversations"

    owner_user_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    conversation_type: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str] = mapped_column(_ID, default="")
    group_id: Mapped[str] = mapped_column(_ID, default="")
    recv_msg_opt: Mapped[int] = mapped_column(Integer, default=0)
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    is_private_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    burn_duration: Mapped[int] = mapped_column(Integer, default=0)
    group_at_type: Mapped[int] = mapped_column(Integer, default=0)
    attached_info: Mapped[str] = mapped_column(Text, default="")
    ex: Mapped[str] = mapped_column(Text, default="")
    min_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    msg_destruct_time: Mapped[int] = mapped_column(BigInteger, default=0)
    latest_msg_destruct_time: Mapped[int] = mapped_column(BigInteger, default=0)
    is_msg_destruct: Mapped[bool] = mapped_column(Boolean, default=False)
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)


class GroupRow(Base):
    """A group (OpenIM model.Group); the owner is the member with role 100, not a column."""

    __tablename__ = "im_groups"

    group_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    group_name: Mapped[str] = mapped_column(Text, default="")
    notification: Mapped[str] = mapped_column(Text, default="")
    introduction: Mapped[str] = mapped_column(Text, default="")
    face_url: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    ex: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    creator_user_id: Mapped[str] = mapped_column(_ID, default="")
    group_type: Mapped[int] = mapped_column(Integer, default=0)
    need_verification: Mapped[int] = mapped_column(Integer, default=0)
    look_member_info: Mapped[int] = mapped_column(Integer, default=0)
    apply_member_friend: Mapped[int] = mapped_column(Integer, default=0)
    notification_update_time: Mapped[int] = mapped_column(BigInteger, default=0)
    notification_user_id: Mapped[str] = mapped_column(_ID, default="")


class GroupMemberRow(Base):
    """One member of a group (OpenIM model.GroupMember).

    `nickname`/`face_url` are the group-specific ones (empty = the user's own,
    filled in when read: PopulateGroupMember). `id` keeps join order, the
    secondary sort key after role level (mgo/group_member.go memberSort).
    """

    __tablename__ = "im_group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id", name="uq_im_group_members_group_user"),
        Index("ix_im_group_members_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(_ID)
    user_id: Mapped[str] = mapped_column(_ID)
    nickname: Mapped[str] = mapped_column(Text, default="")
    face_url: Mapped[str] = mapped_column(Text, default="")
    role_level: Mapped[int] = mapped_column(Integer, default=20)
    join_time: Mapped[int] = mapped_column(BigInteger, default=0)
    join_source: Mapped[int] = mapped_column(Integer, default=0)
    inviter_user_id: Mapped[str] = mapped_column(_ID, default="")
    operator_user_id: Mapped[str] = mapped_column(_ID, default="")
    mute_end_time: Mapped[int] = mapped_column(BigInteger, default=0)
    ex: Mapped[str] = mapped_column(Text, default="")


class GroupRequestRow(Base):
    """A request to join a group (OpenIM model.GroupRequest): one per (group, user), a new one replaces it."""

    __tablename__ = "im_group_requests"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id", name="uq_im_group_requests_group_user"),
        Index("ix_im_group_requests_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(_ID)
    user_id: Mapped[str] = mapped_column(_ID)
    handle_result: Mapped[int] = mapped_column(Integer, default=0)
    req_msg: Mapped[str] = mapped_column(Text, default="")
    handled_msg: Mapped[str] = mapped_column(Text, default="")
    req_time: Mapped[int] = mapped_column(BigInteger, default=0)
    handle_user_id: Mapped[str] = mapped_column(_ID, default="")
    handled_time: Mapped[int] = mapped_column(BigInteger, default=0)
    join_source: Mapped[int] = mapped_column(Integer, default=0)
    inviter_user_id: Mapped[str] = mapped_column(_ID, default="")
    ex: Mapped[str] = mapped_column(Text, default="")
