"""Versioned incremental sync of joined groups and their members (openim-v3.md 5.9 step 6).

What openimsdk/openim-sdk-core v3.8.3 does in internal/group/incremental_sync.go
(IncrSyncJoinGroup, IncrSyncGroupAndMember) over pkg/syncer/version_synchronizer.go,
against open-im-server internal/rpc/group/sync.go:

* one (versionID, version) for the user's joined-groups list and one per joined
  group's member list, kept in the checkpoint (the SDK's local_version_sync
  rows for `local_groups` and `local_group_entities_version`);
* joined groups: `/group/get_incremental_join_groups`; member lists: all groups
  at once through `/group/get_incremental_group_members_batch`, at most
  MaxSyncPullNumber (500) groups per request, asking again for the groups an
  answer left out (the server stops after a number of changes and drops
  dismissed groups);
* a delta is applied to the local list (delete, then insert and update); an
  answer with `full` (or a list never loaded) is replaced by the whole list
  (`/group/get_joined_group_list`, `/group/get_group_member_list`). Either way
  the caller diffs old against new, so every callback comes from one diff.
  The SDK's full sync is silent (syncer.FullSync deletes and re-inserts): here
  a full answer is diffed too, so nothing is lost when the server's log was
  too long (incrversion syncLimit) or was reset.

Everything here is I/O through the core's ApiClient or pure; the GroupModule
owns the state and emits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import SdkError
from core.modules.version_sync import Delta, Version
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode
from core.transport.api import ApiClient
from core.untrusted import mapping

__all__ = ["MAX_SYNC_GROUPS", "GroupVersions", "fetch_joined_delta", "fetch_member_deltas"]

# protocol constant.MaxSyncPullNumber: groups per batch request (IncrSyncGroupAndMember).
MAX_SYNC_GROUPS = 500
# The upstream not answering: the sync fails, to be run again (reconnect, next notification).
_UNREACHABLE = {ErrCode.NetworkError, ErrCode.NetworkTimeoutError}
# Per-group refusals that mean "not one of your groups (any more)": skipped.
_SKIPPABLE = {
    ErrCode.NoPermissionError,
    ErrCode.GroupIDNotFoundError,
    ErrCode.NotInGroupYetError,
    ErrCode.DismissedAlreadyError,
}


@dataclass(slots=True)
class GroupVersions:
    """The versions a GroupModule keeps in its checkpoint."""

    joined: Version = field(default_factory=Version)
    members: dict[str, Version] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return {"joined": self.joined.dump(), "members": {g: v.dump() for g, v in self.members.items()}}

    @classmethod
    def load(cls, raw: Any) -> GroupVersions:
        """A checkpoint written before versions were kept has none: the next sync asks for full answers."""
        raw = raw if isinstance(raw, dict) else {}
        members = raw.get("members")
        members = members if isinstance(members, dict) else {}
        return cls(Version.load(raw.get("joined")), {str(g): Version.load(v) for g, v in members.items()})

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the member versions of groups no longer joined."""
        wanted = set(keep)
        for gid in [g for g in self.members if g not in wanted]:
            del self.members[gid]


async def fetch_joined_delta(api: ApiClient, me: str, version: Version, operation_id: str) -> Delta:
    body = {"userID": me, **version.body()}
    return Delta.parse(await api.post("/group/get_incremental_join_groups", body, operation_id))


async def fetch_member_deltas(
    api: ApiClient, me: str, versions: Mapping[str, Version], operation_id: str
) -> dict[str, Delta]:
    """Member deltas of every group in `versions`, 500 groups per batch request.

    An answer may leave groups out (the server stops after enough changes, and
    skips dismissed groups): those are asked again, until an answer brings
    nothing new; then the rest are left out (the joined-group sync removes
    dismissed groups). A batch refused by the server (imserver checks
    membership, so a group left meanwhile fails it; 3.8.3 fails a batch whose
    groups are all dismissed with 500, incrversion "targetKeys is empty") is
    asked group by group instead, skipping the groups refused.
    """
    pending = dict(versions)
    out: dict[str, Delta] = {}
    while pending:
        chunk = dict(list(pending.items())[:MAX_SYNC_GROUPS])
        try:
            answers = await _batch(api, me, chunk, operation_id)
        except SdkError as exc:
            if exc.code in _UNREACHABLE or exc.code in TOKEN_ERRORS:
                raise
            answers = await _one_by_one(api, chunk, operation_id)
            for gid in chunk:
                pending.pop(gid, None)
        got = {gid: d for gid, d in answers.items() if gid in chunk}
        out.update(got)
        for gid in got:
            pending.pop(gid, None)
        if not got:
            break
    return out


async def _batch(api: ApiClient, me: str, chunk: Mapping[str, Version], operation_id: str) -> dict[str, Delta]:
    body = {"userID": me, "reqList": [{"groupID": gid, **v.body()} for gid, v in chunk.items()]}
    data = await api.post("/group/get_incremental_group_members_batch", body, operation_id)
    answers = mapping(data, "respList")
    return {str(gid): Delta.parse(a, members=True) for gid, a in answers.items() if isinstance(a, dict)}


async def _one_by_one(api: ApiClient, chunk: Mapping[str, Version], operation_id: str) -> dict[str, Delta]:
    out: dict[str, Delta] = {}
    for gid, version in chunk.items():
        try:
            data = await api.post(
                "/group/get_incremental_group_members", {"groupID": gid, **version.body()}, operation_id
            )
        except SdkError as exc:
            if exc.code not in _SKIPPABLE:
                raise
            continue
        out[gid] = Delta.parse(data, members=True)
    return out
