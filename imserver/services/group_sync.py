"""Incremental group sync: joined groups per user, members per group (openim-v3.md 5.9 step 6).

Port of open-im-server internal/rpc/group/sync.go over the version logs that
group_store.py writes (answer rules in imserver/services/versions.py, from
internal/rpc/incrversion/option.go):

* get_incremental_join_groups: the user's joined-groups log, insert/update as
  GroupInfo, delete as group IDs;
* get_incremental_group_members: one group's member log, insert/update as
  GroupMemberFullInfo; the group-change pseudo-ID "" is not a member, it only
  says `group` must be sent, which happens on any change or a full answer;
  a dismissed group is 1204, checked before membership (3.8.3 checks membership
  first, and as a dismissal empties the group, a batch naming it then fails
  whole with 1002 instead of skipping it);
* get_incremental_group_members_batch: the same per group, skipping dismissed
  groups and stopping once 500 changes were answered (versionSyncLimit);
* get_full_*_ids: the ordered ID list, or `equal` when the client's idHash matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import GroupStatus
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker, small_writes_for
from imserver.errors import ImError
from imserver.reads import ReadTx, reads_for
from imserver.services import group_reads
from imserver.services import group_store as store
from imserver.services.common import Operator
from imserver.services.sdkws_group import GroupInfo, GroupMemberFullInfo
from imserver.services.versions import Delta, VersionHead, VersionLogs, id_hash, read_delta

__all__ = ["GroupSyncService", "JoinedGroupsDelta", "MemberDelta", "SyncIDs"]

# sync.go versionSyncLimit: a batch answer stops after this many changed members.
_BATCH_LIMIT = 500


@dataclass(frozen=True, slots=True)
class JoinedGroupsDelta:
    head: VersionHead
    full: bool
    delete: list[str] | None
    insert: list[GroupInfo] | None
    update: list[GroupInfo] | None


@dataclass(frozen=True, slots=True)
class MemberDelta:
    head: VersionHead
    full: bool
    delete: list[str] | None
    insert: list[GroupMemberFullInfo] | None
    update: list[GroupMemberFullInfo] | None
    group: GroupInfo | None
    sort_version: int

    @property
    def size(self) -> int:
        return sum(len(x or ()) for x in (self.delete, self.insert, self.update))


@dataclass(frozen=True, slots=True)
class SyncIDs:
    head: VersionHead
    equal: bool
    ids: list[str] | None


class GroupSyncService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], versions: VersionLogs) -> None:
        self._sessionmaker = sessionmaker
        # Answers from existing logs run inline on SQLite, no thread hop (db.py); a first
        # read creates its log, in a writing session.
        self._reads = make_read_sessionmaker(sessionmaker)
        self._fast_reads = reads_for(sessionmaker)
        self._writes = small_writes_for(sessionmaker)
        self._versions = versions

    async def joined_groups(self, user_id: str, version_id: str, version: int) -> JoinedGroupsDelta:
        def read(tx: ReadTx) -> JoinedGroupsDelta | None:
            delta = read_delta(tx, store.JOINED_GROUPS, user_id, version_id, version)
            if delta is None:
                return None
            insert = group_reads.group_infos(tx, delta.insert_ids or [])
            update = group_reads.group_infos(tx, delta.update_ids or [])
            return JoinedGroupsDelta(delta.head, delta.full, delta.delete_ids, insert or None, update or None)

        for first in (True, False):
            found = await self._fast_reads.run(read)
            if found is not None:
                return found
            if first:
                await self._writes.run(self._versions.first_log(store.JOINED_GROUPS, user_id))
        async with self._sessionmaker.begin() as session:
            delta = await self._versions.delta(session, store.JOINED_GROUPS, user_id, version_id, version)
            return await self._joined(session, delta)

    @staticmethod
    async def _joined(session: AsyncSession, delta: Delta) -> JoinedGroupsDelta:
        insert = await store.group_infos(session, delta.insert_ids or [])
        update = await store.group_infos(session, delta.update_ids or [])
        return JoinedGroupsDelta(delta.head, delta.full, delta.delete_ids, insert or None, update or None)

    async def joined_group_ids(self, user_id: str, client_hash: int) -> SyncIDs:
        async with self._sessionmaker.begin() as session:
            head = await self._versions.head(session, store.JOINED_GROUPS, user_id)
            ids = await store.joined_group_ids(session, user_id)
        equal = client_hash == id_hash(ids)
        return SyncIDs(head, equal, None if equal else ids or None)

    async def members(self, op: Operator, group_id: str, version_id: str, version: int) -> MemberDelta:
        async with self._reads() as session:
            answer = await self._members(session, op, group_id, version_id, version, peek=True)
            if answer is not None:
                return answer
        async with self._sessionmaker.begin() as session:
            answer = await self._members(session, op, group_id, version_id, version)
            assert answer is not None
            return answer

    async def members_batch(self, op: Operator, requests: Sequence[tuple[str, str, int]]) -> dict[str, MemberDelta]:
        """BatchGetIncrementalGroupMember: (groupID, versionID, version) per group."""
        async with self._reads() as session:
            answers = await self._batch(session, op, requests, peek=True)
            if answers is not None:
                return answers
        async with self._sessionmaker.begin() as session:
            answers = await self._batch(session, op, requests)
            assert answers is not None
            return answers

    async def _batch(
        self, session: AsyncSession, op: Operator, requests: Sequence[tuple[str, str, int]], *, peek: bool = False
    ) -> dict[str, MemberDelta] | None:
        """None when `peek` finds a member log still to be created."""
        answers: dict[str, MemberDelta] = {}
        changed = 0
        for group_id, version_id, version in requests:
            if group_id in answers:
                continue
            try:
                answer = await self._members(session, op, group_id, version_id, version, peek=peek)
            except ImError as exc:
                if exc.code == ErrCode.DismissedAlreadyError:
                    continue
                raise
            if answer is None:
                return None
            answers[group_id] = answer
            changed += answer.size
            if changed >= _BATCH_LIMIT:
                break
        return answers

    async def member_ids(self, op: Operator, group_id: str, client_hash: int) -> SyncIDs:
        async with self._sessionmaker.begin() as session:
            await store.take_group(session, group_id)
            ids = await store.member_ids(session, group_id)
            if not op.is_admin and op.user_id not in ids:
                raise ImError(ErrCode.NoPermissionError, "op user not in group")
            head = await self._versions.head(session, store.GROUP_MEMBERS, group_id)
        equal = client_hash == id_hash(ids)
        return SyncIDs(head, equal, None if equal else ids or None)

    async def _members(
        self, session: AsyncSession, op: Operator, group_id: str, version_id: str, version: int, *, peek: bool = False
    ) -> MemberDelta | None:
        """None when `peek` (a read-only session) finds the group's member log still to be created."""
        group = await store.take_group(session, group_id)
        if group.status == GroupStatus.DISMISSED:
            raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
        await store.check_in_group(session, group_id, op.user_id, op.is_admin)
        if peek:
            found = await self._versions.peek_delta(session, store.GROUP_MEMBERS, group_id, version_id, version)
            if found is None:
                return None
            delta = found
        else:
            delta = await self._versions.delta(session, store.GROUP_MEMBERS, group_id, version_id, version)
        update_ids = [u for u in delta.update_ids or [] if u != store.GROUP_CHANGE_ID]
        changed = bool(delta.insert_ids or delta.delete_ids or delta.update_ids or delta.sort_version)
        insert = await store.member_infos(session, await store.members(session, group_id, delta.insert_ids or []))
        update = await store.member_infos(session, await store.members(session, group_id, update_ids))
        info = None
        if delta.full or changed:
            [info] = await store.group_infos(session, [group_id])
        return MemberDelta(
            delta.head,
            delta.full,
            delta.delete_ids,
            insert or None,
            update or None,
            info,
            delta.sort_version,
        )
