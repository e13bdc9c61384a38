"""Version logs for incremental sync (friends, blacks, and any other owner-scoped list).

Port of OpenIM's version log (open-im-server pkg/common/storage/database/mgo/
version_log.go, model/version_log.go) and of the answer rules in
internal/rpc/incrversion/option.go:

* one log per (table, owner) with a stable `versionID` (ObjectID-shaped hex,
  made once) and a `version` that grows by one per change batch; a log is
  created at version 1 by its first read or its first change;
* the log keeps only the latest change per element id (insert/delete/update);
* a client's (versionID, version) is answered with `full` when the versionID
  is not a valid non-zero ObjectID, the version is 0, the versionID is not the
  log's, the client is ahead of the log, or more than 200 changes happened
  since; with an empty delta when the version is current; else with the ids
  changed since that version. The sort pseudo-element (pinning changes order)
  is reported as `sortVersion`, not as a change.

Every method takes the caller's session so a change and its log entry commit
together.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from imserver.models import VersionEntryRow, VersionLogRow
from imserver.reads import ReadTx
from imserver.services.common import distinct, insert_ignore
from imserver.services.sdkws import go_json_dumps

__all__ = [
    "BLACKS",
    "FRIENDS",
    "SORT_CHANGE_ID",
    "SYNC_LIMIT",
    "Delta",
    "VersionHead",
    "VersionLogs",
    "VersionState",
    "id_hash",
    "read_delta",
    "read_head",
]

FRIENDS = "friends"
BLACKS = "blacks"
# model.VersionSortChangeID: logged when the list order changes (isPinned).
SORT_CHANGE_ID = "____S_O_R_T_I_D____"
# incrversion.syncLimit
SYNC_LIMIT = 200
_FIRST_VERSION = 1


class VersionState(IntEnum):
    INSERT = 1
    DELETE = 2
    UPDATE = 3


@dataclass(frozen=True, slots=True)
class VersionHead:
    version_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Delta:
    """What a `get_incremental_*` route answers, before ids become objects.

    Id lists are None where OpenIM's Go slices are nil (JSON `null`).
    """

    head: VersionHead
    full: bool
    insert_ids: list[str] | None = None
    delete_ids: list[str] | None = None
    update_ids: list[str] | None = None
    sort_version: int = 0


def id_hash(ids: Sequence[str]) -> int:
    """open-im-server pkg/util/hashutil.IdHash: first 8 bytes (big-endian) of md5(json(ids)); 0 if empty."""
    if not ids:
        return 0
    digest = hashlib.md5(go_json_dumps(list(ids)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _valid_client_version(version_id: str, version: int) -> bool:
    # incrversion Option.validVersion: a parsable, non-zero ObjectID and version > 0.
    if len(version_id) != 24 or version <= 0:
        return False
    try:
        return int(version_id, 16) != 0
    except ValueError:
        return False


# Read by every incremental sync and full-ID call (several per login): a Core statement
# built once, the two columns only, no ORM object.
_HEAD = select(VersionLogRow.version_id, VersionLogRow.version).where(
    VersionLogRow.table_name == bindparam("t"), VersionLogRow.d_id == bindparam("d")
)


# The changes since a client's version, in log order.
_ENTRIES = (
    select(VersionEntryRow.e_id, VersionEntryRow.state, VersionEntryRow.version)
    .join(VersionLogRow, VersionLogRow.id == VersionEntryRow.log_id)
    .where(
        VersionLogRow.table_name == bindparam("t"),
        VersionLogRow.d_id == bindparam("d"),
        VersionEntryRow.version > bindparam("v"),
    )
    .order_by(VersionEntryRow.version, VersionEntryRow.id)
)


# A missing log, or nothing if it exists by now; built once (values bound from `_new_log`).
_LOG_VALUES: dict[str, Any] = {
    name: bindparam(name) for name in ("table_name", "d_id", "version_id", "version", "last_update")
}
_CREATE_LOG_SQLITE = sqlite_insert(VersionLogRow).values(_LOG_VALUES).on_conflict_do_nothing()
_CREATE_LOG_PG = pg_insert(VersionLogRow).values(_LOG_VALUES).on_conflict_do_nothing()


def _answer(head: VersionHead, version_id: str, version: int) -> Delta | None:
    """The answer that needs no change entries (full, or current); None = read them."""
    if not _valid_client_version(version_id, version) or version_id != head.version_id:
        return Delta(head, full=True)
    if version == head.version:
        return Delta(head, full=False)
    if head.version < version:
        return Delta(head, full=True)
    return None


def _changes(head: VersionHead, entries: Sequence[Any]) -> Delta:
    if len(entries) > SYNC_LIMIT:
        return Delta(head, full=True)
    buckets: dict[int, list[str]] = {}
    sort_version = 0
    for e_id, state, entry_version in entries:
        if e_id == SORT_CHANGE_ID:
            sort_version = entry_version
            continue
        buckets.setdefault(state, []).append(e_id)
    return Delta(
        head,
        full=False,
        insert_ids=buckets.get(VersionState.INSERT),
        delete_ids=buckets.get(VersionState.DELETE),
        update_ids=buckets.get(VersionState.UPDATE),
        sort_version=sort_version,
    )


def read_delta(tx: ReadTx, table: str, d_id: str, version_id: str, version: int) -> Delta | None:
    """`VersionLogs.peek_delta` in a read transaction (imserver.reads)."""
    head = read_head(tx, table, d_id)
    if head is None:
        return None
    answer = _answer(head, version_id, version)
    return answer if answer is not None else _changes(head, tx.rows(_ENTRIES, {"t": table, "d": d_id, "v": version}))


def read_head(tx: ReadTx, table: str, d_id: str) -> VersionHead | None:
    """`VersionLogs.peek_head` in a read transaction: None while the log does not exist yet."""
    rows = tx.rows(_HEAD, {"t": table, "d": d_id})
    return VersionHead(rows[0][0], rows[0][1]) if rows else None


class VersionLogs:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms

    async def head(self, session: AsyncSession, table: str, d_id: str) -> VersionHead:
        """The log's current (versionID, version), creating an empty log at version 1."""
        head = await self._find(session, table, d_id)
        if head is None:
            await self._create(session, table, d_id, _FIRST_VERSION)
            head = await self._find(session, table, d_id)
            assert head is not None
        return head

    async def incr(
        self, session: AsyncSession, table: str, d_id: str, e_ids: Sequence[str], state: VersionState
    ) -> VersionHead:
        """Record one change batch: version + 1, each element's latest state replaced."""
        ids = distinct(e_ids)
        if not ids:
            return await self.head(session, table, d_id)
        now = self._now_ms()
        # A log first created by a change starts at version 1 (mgo initDoc), like one created by a read.
        await self._create(session, table, d_id, _FIRST_VERSION - 1)
        result = await session.execute(
            update(VersionLogRow)
            .where(VersionLogRow.table_name == table, VersionLogRow.d_id == d_id)
            .values(version=VersionLogRow.version + 1, last_update=now)
            .returning(VersionLogRow.id, VersionLogRow.version, VersionLogRow.version_id)
        )
        log_id, version, version_id = result.one()
        await session.execute(
            delete(VersionEntryRow).where(VersionEntryRow.log_id == log_id, VersionEntryRow.e_id.in_(ids))
        )
        session.add_all(VersionEntryRow(log_id=log_id, e_id=e_id, state=int(state), version=version) for e_id in ids)
        await session.flush()
        return VersionHead(version_id, version)

    async def delta(self, session: AsyncSession, table: str, d_id: str, version_id: str, version: int) -> Delta:
        head = await self.head(session, table, d_id)
        return await self._delta(session, head, table, d_id, version_id, version)

    async def peek_delta(
        self, session: AsyncSession, table: str, d_id: str, version_id: str, version: int
    ) -> Delta | None:
        """`delta` in a read-only session: None while the log does not exist yet (a first
        read creates it, so the caller answers through `delta` in a writing session)."""
        head = await self._find(session, table, d_id)
        return None if head is None else await self._delta(session, head, table, d_id, version_id, version)

    def first_log(self, table: str, d_id: str) -> Callable[[Connection], None]:
        """The statement of `head`'s creation of a missing log, for db.SmallWrites: the same
        row (version 1, a new versionID), or nothing if it exists by now."""
        row = self._new_log(table, d_id, _FIRST_VERSION)

        def create(conn: Connection) -> None:
            conn.execute(_CREATE_LOG_PG if conn.dialect.name == "postgresql" else _CREATE_LOG_SQLITE, row)

        return create

    async def peek_head(self, session: AsyncSession, table: str, d_id: str) -> VersionHead | None:
        """`head` in a read-only session: None while the log does not exist yet."""
        return await self._find(session, table, d_id)

    @staticmethod
    async def _delta(
        session: AsyncSession, head: VersionHead, table: str, d_id: str, version_id: str, version: int
    ) -> Delta:
        answer = _answer(head, version_id, version)
        if answer is not None:
            return answer
        entries = (await session.execute(_ENTRIES, {"t": table, "d": d_id, "v": version})).all()
        return _changes(head, entries)

    @staticmethod
    async def _find(session: AsyncSession, table: str, d_id: str) -> VersionHead | None:
        row = (await session.execute(_HEAD, {"t": table, "d": d_id})).first()
        return None if row is None else VersionHead(row.version_id, row.version)

    async def _create(self, session: AsyncSession, table: str, d_id: str, version: int) -> None:
        await insert_ignore(session, VersionLogRow, [self._new_log(table, d_id, version)])

    def _new_log(self, table: str, d_id: str, version: int) -> dict[str, object]:
        return {
            "table_name": table,
            "d_id": d_id,
            # primitive.NewObjectID().Hex(): 12 bytes as 24 hex digits.
            "version_id": secrets.token_hex(12),
            "version": version,
            "last_update": self._now_ms(),
        }
