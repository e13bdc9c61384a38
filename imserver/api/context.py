"""Everything the HTTP API needs, built once at start-up and passed down (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from imserver.notify import HubPort, Notifier
from imserver.objects import ObjectStore
from imserver.services.blacks import BlackService
from imserver.services.conversations import ConversationService
from imserver.services.friend_requests import FriendRequestService
from imserver.services.friends import FriendService
from imserver.services.group_chat import GroupChatService
from imserver.services.group_members import GroupMemberService
from imserver.services.group_notify import GroupNotifier
from imserver.services.group_requests import GroupRequestService
from imserver.services.group_sync import GroupSyncService
from imserver.services.groups import GroupService
from imserver.services.jssdk import JsSdkService
from imserver.services.messages import MessageService
from imserver.services.presence import PresenceService
from imserver.services.third import ThirdService
from imserver.services.user_commands import UserCommandService
from imserver.services.users import UserService
from imserver.services.versions import VersionLogs
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService

__all__ = ["ApiContext"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: ImServerSettings
    sessionmaker: async_sessionmaker[AsyncSession]
    tokens: TokenService
    hub: HubPort
    notifier: Notifier
    versions: VersionLogs
    users: UserService
    presence: PresenceService
    friends: FriendService
    friend_requests: FriendRequestService
    blacks: BlackService
    conversations: ConversationService
    messages: MessageService
    jssdk: JsSdkService
    groups: GroupService
    group_members: GroupMemberService
    group_requests: GroupRequestService
    group_sync: GroupSyncService
    group_chat: GroupChatService
    objects: ObjectStore
    third: ThirdService
    user_commands: UserCommandService

    @classmethod
    def build(
        cls,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        tokens: TokenService,
        hub: HubPort,
    ) -> ApiContext:
        versions = VersionLogs(settings.now_ms)
        notifier = Notifier(hub, sessionmaker, settings.now_ms)
        users = UserService(settings, sessionmaker, versions, notifier)
        deps = (settings, sessionmaker, versions, notifier, users)
        blacks = BlackService(*deps)
        conversations = ConversationService(settings, sessionmaker, versions, notifier)
        group_chat = GroupChatService(settings, sessionmaker, conversations)
        messages = MessageService(settings, sessionmaker, notifier, conversations, hub, blacks.is_blocked, group_chat)
        group_notify = GroupNotifier(settings, sessionmaker, notifier)
        group_deps = (settings, sessionmaker, versions, group_notify, users)
        group_members = GroupMemberService(*group_deps, conversations)
        users.on_profile_change(group_members.user_profile_changed)
        return cls(
            settings=settings,
            sessionmaker=sessionmaker,
            tokens=tokens,
            hub=hub,
            notifier=notifier,
            versions=versions,
            users=users,
            presence=PresenceService(hub),
            friends=FriendService(*deps),
            friend_requests=FriendRequestService(*deps),
            blacks=blacks,
            conversations=conversations,
            messages=messages,
            jssdk=JsSdkService(sessionmaker, conversations),
            groups=GroupService(*group_deps, conversations),
            group_members=group_members,
            group_requests=GroupRequestService(*group_deps, group_members),
            group_sync=GroupSyncService(sessionmaker, versions),
            group_chat=group_chat,
            objects=ObjectStore(settings.data_dir / "objects", settings.secret, settings.now_ms),
            third=ThirdService(settings.now_ms),
            user_commands=UserCommandService(settings, sessionmaker, notifier),
        )
