"""CPU of reading server answers into core's shapes: typed sdkws models vs the hand parsing (issue 11).

    .venv/bin/python bench/parse_bench.py [--items 500] [--rounds 7]

A login reads every friend, black, request, group and member the server lists
(core/modules/friend.py, group.py); each object goes through one of the
`*_from_server` functions of core/server_reads.py. This times those functions on
answers shaped as OpenIM writes them (every field present, openim-v3.md 0.2)
against the `_s`/`_i` hand parsing of core/models.py they replaced, which is kept below as the
baseline. Rounds alternate baseline and current, and the figure is the ratio of
the medians of process CPU time (current / baseline: below 1 is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from core import models, server_reads
from core.untrusted import integer as _i
from core.untrusted import text as _s

Parse = Callable[[Any], Any]

# --- baseline: the hand parsing of core/models.py before issue 11 (commit e3545d1) -----------
#
# Its flattening functions, one table a shape: each Local field but attachedInfo (left to its
# default) read with `_s` (str), `_i` (int) or `bool(.get)` (bool) by the field's type, from
# the object, or from a nested one for a "nested.key" in `moved`, or under another key for a
# plain "key" there; a nested object absent or null is `{}`. Compiled to the code those
# functions were (`Model(field=_s(obj, "key"), ...)`), so the baseline costs what it did: a
# loop over the table cost 1.3x.


_READ = {str: "_s", int: "_i"}  # bool: bool(.get)


def _hand(model: type[models._Shape], moved: dict[str, str], default: dict[str, str] | None = None) -> Parse:
    """The baseline parser of one flattening shape; `default` names a field's `or` fallback."""
    nested = sorted({path.partition(".")[0] for path in moved.values() if "." in path})
    lines = [f"    {n} = o.get({n!r}) or {{}}" for n in nested]
    args = []
    fallback = default or {}
    for name, info in model.model_fields.items():
        if name != "attachedInfo":
            nest, _, key = moved.get(name, name).rpartition(".")
            src = nest or "o"
            read = (
                f"{_READ[info.annotation]}({src}, {key!r})" if info.annotation in _READ else f"bool({src}.get({key!r}))"
            )
            args.append(f"{name}={read}" + (f" or {fallback[name]}" if name in fallback else ""))
    code = "\n".join(["def parse(o):", *lines, f"    return Model({', '.join(args)})"])
    env: dict[str, Any] = {"Model": model, "_s": _s, "_i": _i}
    exec(code, env)
    parse: Parse = env["parse"]
    return parse


def _in(nested: str, *keys: str) -> dict[str, str]:
    return {k: f"{nested}.{k}" for k in keys}


_GROUP = ("groupID", "groupName", "notification", "introduction", "createTime", "status", "creatorUserID")
_old_user = _hand(models.LocalUser, {})
_old_friend = _hand(models.LocalFriend, _in("friendUser", "userID", "nickname", "faceURL"))
_old_black = _hand(models.LocalBlack, _in("blackUserInfo", "userID", "nickname", "faceURL"))
_old_group_request = _hand(
    models.LocalGroupRequest,
    {
        **_in("groupInfo", *_GROUP, "groupType", "ownerUserID", "memberCount"),
        "groupFaceURL": "groupInfo.faceURL",
        **_in("userInfo", "userID", "nickname"),
        "userFaceURL": "userInfo.faceURL",
        "handledMsg": "handleMsg",
        "handledTime": "handleTime",
    },
    {"groupType": "2"},  # the hand parsing's default: a working group
)


def _old_request(r: dict[str, Any]) -> models.LocalFriendRequest:
    return models.LocalFriendRequest.model_validate({**r, "attachedInfo": ""})


def _old_group(g: dict[str, Any]) -> models.LocalGroup:
    return models.LocalGroup.model_validate({k: v for k, v in g.items() if v is not None})


def _old_member(m: dict[str, Any]) -> models.LocalGroupMember:
    return models.LocalGroupMember.model_validate({k: v for k, v in m.items() if v is not None})


# --- answers as OpenIM writes them -------------------------------------------------------

T = 1_764_000_000_000


def _user(i: int) -> dict[str, Any]:
    return {
        "userID": f"u{i}",
        "nickname": f"User {i}",
        "faceURL": f"https://cdn.example/{i}.png",
        "ex": "",
        "createTime": T,
        "appMangerLevel": 0,
        "globalRecvMsgOpt": 0,
    }


def _public(i: int) -> dict[str, Any]:
    return {k: v for k, v in _user(i).items() if k in ("userID", "nickname", "faceURL", "ex")}


def _group(i: int) -> dict[str, Any]:
    return {
        "groupID": f"g{i}",
        "groupName": f"Group {i}",
        "notification": "",
        "introduction": "about",
        "faceURL": "",
        "ownerUserID": "u0",
        "createTime": T,
        "memberCount": 12,
        "ex": "",
        "status": 0,
        "creatorUserID": "u0",
        "groupType": 2,
        "needVerification": 0,
        "lookMemberInfo": 0,
        "applyMemberFriend": 0,
        "notificationUpdateTime": 0,
        "notificationUserID": "",
    }


def _member(i: int) -> dict[str, Any]:
    return {
        "groupID": "g0",
        "userID": f"u{i}",
        "roleLevel": 20,
        "joinTime": T,
        "nickname": f"User {i}",
        "faceURL": "",
        "appMangerLevel": 0,
        "joinSource": 2,
        "operatorUserID": "u0",
        "ex": "",
        "muteEndTime": 0,
        "inviterUserID": "u0",
    }


def _friend(i: int) -> dict[str, Any]:
    return {
        "ownerUserID": "me",
        "remark": "",
        "createTime": T,
        "friendUser": _user(i),
        "addSource": 2,
        "operatorUserID": "me",
        "ex": "",
        "isPinned": False,
    }


def _black(i: int) -> dict[str, Any]:
    return {
        "ownerUserID": "me",
        "createTime": T,
        "blackUserInfo": _public(i),
        "addSource": 0,
        "operatorUserID": "me",
        "ex": "",
    }


def _request(i: int) -> dict[str, Any]:
    return {
        "fromUserID": f"u{i}",
        "fromNickname": f"User {i}",
        "fromFaceURL": "",
        "toUserID": "me",
        "toNickname": "Me",
        "toFaceURL": "",
        "handleResult": 0,
        "reqMsg": "hi",
        "createTime": T,
        "handlerUserID": "",
        "handleMsg": "",
        "handleTime": 0,
        "ex": "",
    }


def _group_request(i: int) -> dict[str, Any]:
    return {
        "userInfo": _public(i),
        "groupInfo": _group(0),
        "handleResult": 0,
        "reqMsg": "let me in",
        "handleMsg": "",
        "reqTime": T,
        "handleUserID": "",
        "handleTime": 0,
        "ex": "",
        "joinSource": 3,
        "inviterUserID": "",
    }


SHAPES: list[tuple[str, Callable[[int], dict[str, Any]], Parse, Parse]] = [
    ("UserInfo", _user, _old_user, server_reads.user_from_server),
    ("FriendInfo", _friend, _old_friend, server_reads.friend_from_server),
    ("BlackInfo", _black, _old_black, server_reads.black_from_server),
    ("FriendRequest", _request, _old_request, server_reads.request_from_server),
    ("GroupInfo", _group, _old_group, server_reads.group_from_server),
    ("GroupMemberFullInfo", _member, _old_member, server_reads.member_from_server),
    ("GroupRequest", _group_request, _old_group_request, server_reads.group_request_from_server),
]


def _cpu(parse: Parse, items: list[dict[str, Any]]) -> float:
    start = time.process_time()
    for item in items:
        parse(item)
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=500, help="objects per answer")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    print(f"{'shape':<20} {'baseline µs':>12} {'typed µs':>10} {'typed / baseline':>17}")
    totals = {"old": 0.0, "new": 0.0}
    for name, make, old, new in SHAPES:
        items = [make(i) for i in range(a.items)]
        for item in items[:3]:  # same result before anything is timed
            assert old(item) == new(item), name
        old_t: list[float] = []
        new_t: list[float] = []
        for r in range(a.rounds):
            pair = [(old, old_t), (new, new_t)]
            for parse, into in pair if r % 2 == 0 else pair[::-1]:
                into.append(_cpu(parse, items))
        o, n = statistics.median(old_t), statistics.median(new_t)
        totals["old"] += o
        totals["new"] += n
        print(f"{name:<20} {o / a.items * 1e6:>12.2f} {n / a.items * 1e6:>10.2f} {n / o:>17.2f}")
    print(f"{'all shapes':<20} {'':>12} {'':>10} {totals['new'] / totals['old']:>17.2f}")


if __name__ == "__main__":
    main()
