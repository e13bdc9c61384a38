"""Registry of online connections: push (2001), kick (2002), online status (2005).

open-im-server internal/msggateway: user_map.go (connections per user),
ws_server.go registerClient / multiTerminalLoginChecker (multi-login policy),
hub_server.go SuperGroupOnlineBatchPushOneMsg and KickUserOffline, client.go
PushMessage / KickOnlineMessage, subscription.go (online-status subscribers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, TypeVar

from core.protocol import openim_pb2 as pb
from core.protocol.constants import PlatformID, ReqIdentifier
from core.protocol.envelope import WsResp
from imserver.gateway.connection import Connection, GatewayStats
from imserver.msgstore import conversation_id_of, is_notification_conversation

__all__ = ["Hub", "Terminal", "connections_to_kick", "platform_class"]


# protocol constant.PlatformIDToClass (openim-v3.md 4.4).
_CLASSES = {1: "Mobile", 2: "Mobile", 3: "PC", 4: "PC", 7: "PC", 5: "Web", 6: "MiniWeb", 8: "Pad", 9: "Pad"}


def platform_class(platform_id: int) -> str:
    return _CLASSES.get(platform_id, str(platform_id))


class Terminal(Protocol):
    @property
    def platform_id(self) -> int: ...

    @property
    def token(self) -> str: ...


T = TypeVar("T", bound=Terminal)


def connections_to_kick(policy: int, existing: Iterable[T], new: T) -> list[T]:
    """Which connections a new login evicts (multiTerminalLoginChecker; openim-v3.md 2.8).

    0 kicks nothing; 1 the same platform; 4 the same platform class; 5 (PCAndOther)
    PCs are never kicked and a new non-PC login kicks every other non-PC connection.
    A connection holding the new token is never kicked (checkSameTokenFunc: the same
    client reconnecting).
    """
    new_class = platform_class(new.platform_id)
    if policy == 0 or (policy == 5 and new_class == "PC"):
        return []
    if policy == 4:
        same = [c for c in existing if platform_class(c.platform_id) == new_class]
    elif policy == 5:
        same = [c for c in existing if platform_class(c.platform_id) != "PC"]
    else:
        same = [c for c in existing if c.platform_id == new.platform_id]
    return [c for c in same if c.token != new.token and c is not new]


class Hub:
    """All online connections of this gateway, by user."""

    def __init__(self) -> None:
        self.stats = GatewayStats()
        self._users: dict[str, list[Connection]] = {}
        self._subscribers: dict[str, set[Connection]] = {}
        self._later: set[asyncio.Task[None]] = set()

    def push_later(self, delay: float, user_ids: Iterable[str], msg: pb.MsgData, operation_id: str) -> None:
        """`push` after `delay` seconds, without holding up the caller (settings.own_copy_push_delay)."""

        async def later() -> None:
            await asyncio.sleep(delay)
            await self.push(user_ids, msg, operation_id)

        task = asyncio.get_running_loop().create_task(later(), name="gateway-delayed-push")
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def close(self) -> None:
        """Drop the pushes still held back (the server is stopping)."""
        tasks = list(self._later)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    @property
    def connection_count(self) -> int:
        return sum(len(conns) for conns in self._users.values())

    def connections(self, user_id: str) -> list[Connection]:
        return list(self._users.get(user_id, ()))

    def online_platforms(self, user_id: str) -> list[int]:
        return sorted({c.platform_id for c in self._users.get(user_id, ())})

    # --- registration -------------------------------------------------------------

    def register(self, conn: Connection, policy: int) -> list[Connection]:
        """Add a connection, evict what multi-login `policy` says, return the evicted."""
        existing = self.connections(conn.user_id)
        before = self.online_platforms(conn.user_id)
        evicted = connections_to_kick(policy, existing, conn)
        for old in evicted:
            self._remove(old)
            self._send_kick(old)
        self._users.setdefault(conn.user_id, []).append(conn)
        self._status_changed(conn.user_id, before)
        return evicted

    def unregister(self, conn: Connection) -> None:
        before = self.online_platforms(conn.user_id)
        if self._remove(conn):
            self._status_changed(conn.user_id, before)
        for user_id in conn.subscriptions:
            subs = self._subscribers.get(user_id)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self._subscribers[user_id]
        conn.subscriptions.clear()

    def _remove(self, conn: Connection) -> bool:
        conns = self._users.get(conn.user_id)
        if conns is None or conn not in conns:
            return False
        conns.remove(conn)
        if not conns:
            del self._users[conn.user_id]
        return True

    # --- server-initiated frames ------------------------------------------------------

    async def push(self, user_ids: Iterable[str], msg: pb.MsgData, operation_id: str) -> None:
        """2001 to every online connection of each user, except iOS in background.

        The frame holds exactly one conversation entry, under `notificationMsgs` for an
        n_ conversation, else `msgs` (client.go PushMessage).
        """
        conversation_id = conversation_id_of(msg)
        push = pb.PushMessages()
        entries = push.notificationMsgs if is_notification_conversation(conversation_id) else push.msgs
        entries[conversation_id].Msgs.append(msg)
        resp = WsResp(ReqIdentifier.PUSH_MSG, "", operation_id, data=push.SerializeToString())
        for user_id in dict.fromkeys(user_ids):
            for conn in self.connections(user_id):
                if conn.background and conn.platform_id == PlatformID.IOS:
                    continue  # IOSBackgroundPushErr: left to offline push
                conn.send_resp(resp)

    async def kick(self, user_id: str, platform_id: int, except_token: str | None = None) -> None:
        """2002 then close, for /auth/force_logout and admin kicks (KickUserOffline)."""
        before = self.online_platforms(user_id)
        victims = [c for c in self.connections(user_id) if c.platform_id == platform_id and c.token != except_token]
        for conn in victims:
            self._remove(conn)
            self._send_kick(conn)
        if victims:
            self._status_changed(user_id, before)

    def _send_kick(self, conn: Connection) -> None:
        self.stats.kicks += 1
        conn.send_resp(WsResp(ReqIdentifier.KICK_ONLINE_MSG, "", ""))
        conn.close_after_pending()

    # --- online status subscriptions (2005) ---------------------------------------------

    def subscribe(self, conn: Connection, add: Iterable[str], remove: Iterable[str]) -> None:
        """Subscription.Sub: unsubscribe first, then subscribe (an ID in both stays subscribed)."""
        add = list(add)
        for user_id in remove:
            if user_id in add or user_id not in conn.subscriptions:
                continue
            conn.subscriptions.discard(user_id)
            subs = self._subscribers.get(user_id)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self._subscribers[user_id]
        for user_id in add:
            conn.subscriptions.add(user_id)
            self._subscribers.setdefault(user_id, set()).add(conn)

    def status_tips(self, user_ids: Iterable[str]) -> pb.SubUserOnlineStatusTips:
        tips = pb.SubUserOnlineStatusTips()
        for user_id in user_ids:
            tips.subscribers.add(userID=user_id, onlinePlatformIDs=self.online_platforms(user_id))
        return tips

    def _status_changed(self, user_id: str, before: list[int]) -> None:
        if self.online_platforms(user_id) == before:
            return
        subscribers = self._subscribers.get(user_id)
        if not subscribers:
            return
        data = self.status_tips([user_id]).SerializeToString()
        resp = WsResp(ReqIdentifier.SUB_USER_ONLINE_STATUS, "", "", data=data)
        for conn in list(subscribers):
            conn.send_resp(resp)
