"""The version-log side of incremental sync, shared by groups and conversations.

The client half of open-im-server internal/rpc/incrversion (option.go,
batch_option.go): a list's position is (versionID, version); an answer says
`full`, or lists the IDs deleted and the elements inserted or updated since.
openim-sdk-core v3.8.3 pkg/syncer/version_synchronizer.go applies a delta to
the local list (IncrementalSync); `apply_delta` is that step, and the caller
diffs the old list against the new one so callbacks fire only for what
really changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core.untrusted import flag, integer, mapping, str_list, text

__all__ = ["Delta", "Version", "apply_delta", "objects"]

# Most IDs read from one delta (the server's own sync limit is far below).
_MAX_IDS = 10_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Version:
    """A list's position in the server's version log; ("", 0) asks for a full answer."""

    version_id: str = ""
    version: int = 0

    def body(self) -> dict[str, Any]:
        return {"versionID": self.version_id, "version": self.version}

    def dump(self) -> list[Any]:
        return [self.version_id, self.version]

    @classmethod
    def load(cls, raw: Any) -> Version:
        if isinstance(raw, list) and len(raw) == 2:
            version_id, version = raw
            if isinstance(version_id, str) and isinstance(version, int) and not isinstance(version, bool):
                return cls(version_id, max(0, version))
        return cls()


@dataclass(frozen=True, slots=True)
class Delta:
    """One `get_incremental_*` answer, read defensively."""

    version: Version
    full: bool
    delete: list[str]
    upsert: list[dict[str, Any]]  # insert then update: each is the element's current state
    group: dict[str, Any] | None = None  # member answers: the group's info when it (or anything) changed

    @classmethod
    def parse(cls, data: Any, *, members: bool = False) -> Delta:
        """`members`: a group-member answer, the only kind that carries `group`
        (GetIncrementalGroupMemberResp; the join-group and conversation answers have none)."""
        data = data if isinstance(data, dict) else {}
        group = mapping(data, "group") if members else {}
        return cls(
            version=Version(text(data, "versionID"), max(0, integer(data, "version"))),
            full=flag(data, "full"),
            delete=str_list(data, "delete", _MAX_IDS),
            upsert=objects(data, "insert") + objects(data, "update"),
            group=group or None,
        )


def objects(data: Any, key: str) -> list[dict[str, Any]]:
    """The JSON objects of a list field; anything else in it is dropped."""
    value = data.get(key) if isinstance(data, dict) else None
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def apply_delta(
    local: Mapping[str, T], delete: Sequence[str], upsert: Iterable[T], key: Callable[[T], str]
) -> dict[str, T]:
    """The list after a delta: inserts and updates, then deletions (VersionSynchronizer.IncrementalSync)."""
    out = dict(local)
    for item in upsert:
        out[key(item)] = item
    for gone in delete:
        out.pop(gone, None)
    return out
