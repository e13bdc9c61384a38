"""Version sync without a server: reading answers, applying deltas, batching, and the
diff that turns them into callbacks (core/modules/version_sync.py, group_sync.py,
conversation_sync.py; issue 13). The upstream is an httpx MockTransport that
answers as open-im-server internal/rpc/group/sync.go does; the end-to-end
behaviour against the imserver is tests/e2e/test_version_sync.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest

from core.errors import SdkError
from core.models import LocalConversation
from core.modules.conversation_sync import apply_settings
from core.modules.group import GroupModule
from core.modules.group_sync import MAX_SYNC_GROUPS, GroupVersions, fetch_member_deltas
from core.modules.version_sync import Delta, Version, apply_delta
from core.protocol.errcodes import ErrCode
from core.transport.api import ApiClient

if TYPE_CHECKING:
    from core.core import Core

VID = "0123456789abcdef01234567"
Handler = Callable[[str, dict[str, Any]], Any]


class Upstream:
    """Routes -> handler(route, body) returning `data`, or raising SdkError for an errCode."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.calls.append((request.url.path, body))
        try:
            data = self.routes[request.url.path](request.url.path, body)
        except SdkError as exc:
            return httpx.Response(200, json={"errCode": exc.code, "errMsg": exc.msg, "errDlt": ""})
        return httpx.Response(200, json={"errCode": 0, "errMsg": "", "errDlt": "", "data": data})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._answer))

    def named(self, route: str) -> list[dict[str, Any]]:
        return [body for path, body in self.calls if path == route]


def _delta(version: int, **fields: Any) -> dict[str, Any]:
    return {"versionID": VID, "version": version, "full": False, **fields}


# -- reading and applying ------------------------------------------------------


def test_apply_delta_upserts_then_deletes_like_the_sdk() -> None:
    local = {"a": ("a", 1), "b": ("b", 2), "c": ("c", 3)}
    out = apply_delta(local, ["b", "zz"], [("c", 30), ("d", 4), ("b", 20)], key=lambda kv: kv[0])
    assert out == {"a": ("a", 1), "c": ("c", 30), "d": ("d", 4)}
    assert local["c"] == ("c", 3) and "b" in local  # the old list is kept for the diff


@pytest.mark.parametrize(
    "raw",
    [None, "x", [], [VID], [VID, "3"], [VID, True], [3, VID], {"versionID": VID}],
)
def test_a_version_that_is_not_one_reads_as_none_kept(raw: Any) -> None:
    assert Version.load(raw) == Version()


def test_versions_round_trip_and_old_checkpoints_have_none() -> None:
    v = GroupVersions(Version(VID, 7), {"g1": Version(VID, 3)})
    assert GroupVersions.load(json.loads(json.dumps(v.dump()))) == v
    assert GroupVersions.load(None) == GroupVersions()  # written before issue 13
    assert Version.load([VID, -5]) == Version(VID, 0)
    v.forget(["g2"])
    assert v.members == {}


def test_a_delta_is_read_defensively() -> None:
    d = Delta.parse(
        {
            "versionID": VID,
            "version": -1,
            "full": "yes",
            "delete": ["a", 3, None, "b"],
            "insert": [{"userID": "x"}, "junk", 5],
            "update": None,
            "group": {},
        }
    )
    assert d.version == Version(VID, 0) and not d.full
    assert d.delete == ["a", "b"] and d.upsert == [{"userID": "x"}] and d.group is None
    assert Delta.parse(None) == Delta(Version(), False, [], [])


def test_conversation_settings_report_only_real_changes() -> None:
    conv = LocalConversation(conversationID="si_a_b", draftText="draft", unreadCount=4)
    raw = {"conversationID": "si_a_b", "isPinned": True, "recvMsgOpt": 2, "burnDuration": 30}
    assert apply_settings(conv, raw)
    assert conv.isPinned and conv.recvMsgOpt == 2 and conv.burnDuration == 30
    assert conv.draftText == "draft" and conv.unreadCount == 4  # SDK-local, and the message side
    assert not apply_settings(conv, raw)
    assert apply_settings(conv, {**raw, "isPrivateChat": True}) and conv.isPrivateChat


# -- the batch route -------------------------------------------------------------


async def test_member_deltas_are_asked_500_groups_at_a_time_until_every_group_is_answered() -> None:
    def batch(route: str, body: dict[str, Any]) -> Any:
        asked = [r["groupID"] for r in body["reqList"]]
        # The server stops after enough changes: answer a few groups per request.
        return {"respList": {g: _delta(2) for g in asked[:300]}}

    up = Upstream({"/group/get_incremental_group_members_batch": batch})
    async with up.client() as http:
        versions = {f"g{i}": Version(VID, 1) for i in range(1200)}
        got = await fetch_member_deltas(ApiClient(http, "http://up"), "me", versions, "op")
    assert set(got) == set(versions)
    sizes = [len(b["reqList"]) for b in up.named("/group/get_incremental_group_members_batch")]
    assert max(sizes) == MAX_SYNC_GROUPS and sum(min(s, 300) for s in sizes) == 1200
    first = up.named("/group/get_incremental_group_members_batch")[0]
    assert first["userID"] == "me" and first["reqList"][0] == {"groupID": "g0", "versionID": VID, "version": 1}


async def test_groups_the_server_never_answers_end_the_loop() -> None:
    # BatchGetIncrementalGroupMember drops dismissed groups from its answer.
    up = Upstream({"/group/get_incremental_group_members_batch": lambda r, b: {"respList": {"g1": _delta(2)}}})
    async with up.client() as http:
        got = await fetch_member_deltas(ApiClient(http, "http://up"), "me", {"g1": Version(), "gone": Version()}, "op")
    assert list(got) == ["g1"]
    assert len(up.named("/group/get_incremental_group_members_batch")) == 2


@pytest.mark.parametrize(
    "refusal",
    [
        ErrCode.NoPermissionError,  # imserver: a group the user left meanwhile
        ErrCode.ServerInternalError,  # 3.8.3: every group asked is dismissed ("targetKeys is empty")
    ],
)
async def test_a_batch_refused_is_asked_group_by_group(refusal: int) -> None:
    def batch(route: str, body: dict[str, Any]) -> Any:
        raise SdkError(refusal, "refused")

    def single(route: str, body: dict[str, Any]) -> Any:
        if body["groupID"] == "left":
            raise SdkError(ErrCode.NoPermissionError, "op user not in group")
        if body["groupID"] == "dismissed":
            raise SdkError(ErrCode.DismissedAlreadyError, "group dismissed")
        return _delta(5, delete=["u9"])

    up = Upstream({"/group/get_incremental_group_members_batch": batch, "/group/get_incremental_group_members": single})
    asked = {"g1": Version(VID, 4), "left": Version(VID, 4), "dismissed": Version(VID, 2)}
    async with up.client() as http:
        api = ApiClient(http, "http://up")
        got = await fetch_member_deltas(api, "me", asked, "op")
        assert list(got) == ["g1"] and got["g1"].delete == ["u9"]
        assert [b["groupID"] for b in up.named("/group/get_incremental_group_members")] == list(asked)


@pytest.mark.parametrize("code", [ErrCode.NetworkError, ErrCode.NetworkTimeoutError, 1501])
async def test_an_unreachable_upstream_or_a_bad_token_fails_the_sync(code: int) -> None:
    def down(route: str, body: dict[str, Any]) -> Any:
        raise SdkError(code, "no")

    up = Upstream({"/group/get_incremental_group_members_batch": down, "/group/get_incremental_group_members": down})
    async with up.client() as http:
        with pytest.raises(SdkError) as err:  # to be run again: reconnect, next notification, revival
            await fetch_member_deltas(ApiClient(http, "http://up"), "me", {"g1": Version()}, "op")
    assert err.value.code == code and up.named("/group/get_incremental_group_members") == []


# -- the diff ----------------------------------------------------------------------


class FakeCore:
    """What GroupModule uses of a Core: the API, the login user, emit and the checkpoint flag."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.user_id = "me"
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.dirty = False
        self.conversation = type("Convs", (), {"convs": {}, "touch": lambda self, cid: None})()

    async def emit(self, listener: str, callback: str, data: Any, operation_id: str | None) -> None:
        self.events.append((callback, data))

    def checkpoint_dirty(self) -> None:
        self.dirty = True


def _member(gid: str, uid: str, **fields: Any) -> dict[str, Any]:
    return {"groupID": gid, "userID": uid, "roleLevel": 20, **fields}


class GroupServer:
    """Joined groups g1, g2; member lists with a version each; deltas as scripted."""

    def __init__(self) -> None:
        self.groups = {g: {"groupID": g, "groupName": g, "memberCount": 2, "status": 0} for g in ("g1", "g2")}
        self.members = {g: [_member(g, "me"), _member(g, "bob")] for g in self.groups}
        self.joined = _delta(1)
        self.member_answers: dict[str, dict[str, Any]] = {}
        self.routes: dict[str, Handler] = {
            "/group/get_incremental_join_groups": lambda r, b: self.joined,
            "/group/get_joined_group_list": lambda r, b: {"groups": list(self.groups.values())},
            "/group/get_incremental_group_members_batch": self._batch,
            "/group/get_group_member_list": lambda r, b: {"members": self.members[b["groupID"]]},
            "/group/get_groups_info": lambda r, b: {"groupInfos": [self.groups[g] for g in b["groupIDs"]]},
        }

    def _batch(self, route: str, body: dict[str, Any]) -> Any:
        out = {}
        for req in body["reqList"]:
            gid = req["groupID"]
            if not req["versionID"]:
                out[gid] = {"versionID": VID, "version": 1, "full": True, "group": self.groups[gid]}
            else:
                out[gid] = self.member_answers.get(gid, _delta(req["version"]))
        return {"respList": out}


async def test_deltas_become_callbacks_once_and_full_answers_are_diffed_not_silent() -> None:
    server = GroupServer()
    up = Upstream(server.routes)
    async with up.client() as http:
        core = FakeCore(ApiClient(http, "http://up"))
        groups = GroupModule(cast("Core", core))  # FakeCore has what GroupModule uses of a Core
        await groups.sync_groups("op", all_members=True)  # first login: the starting state, no callbacks
        assert core.events == [] and set(groups.members["g1"]) == {"me", "bob"}
        assert groups.versions.members == {"g1": Version(VID, 1), "g2": Version(VID, 1)}

        # g1: bob kicked, carol joined, me made admin; the group's info rides along.
        server.groups["g1"] = {**server.groups["g1"], "groupName": "renamed", "memberCount": 2}
        server.member_answers["g1"] = _delta(
            4,
            delete=["bob"],
            insert=[_member("g1", "carol")],
            update=[_member("g1", "me", roleLevel=60)],
            group=server.groups["g1"],
            sortVersion=4,
        )
        await groups.sync_groups("op", all_members=True)
        names = [(cb, d.get("userID", d["groupID"])) for cb, d in core.events]
        assert sorted(names) == sorted(
            [
                ("OnGroupMemberDeleted", "bob"),
                ("OnGroupMemberAdded", "carol"),
                ("OnGroupMemberInfoChanged", "me"),
                ("OnGroupInfoChanged", "g1"),
            ]
        )
        assert groups.versions.members["g1"] == Version(VID, 4) and groups.groups["g1"].groupName == "renamed"

        # The same answer again (a notification racing the sync): nothing new.
        core.events.clear()
        await groups.sync_members("g1", "op")
        assert core.events == []

        # g2's log was reset (another versionID): the full list is read and diffed.
        server.members["g2"] = [_member("g2", "me"), _member("g2", "bob", nickname="bobby")]
        server.member_answers["g2"] = {"versionID": "f" * 24, "version": 9, "full": True}
        await groups.sync_groups("op", all_members=True)
        assert core.events == [
            ("OnGroupMemberInfoChanged", {**_member("g2", "bob"), **_blank_member(nickname="bobby")})
        ]
        assert groups.versions.members["g2"] == Version("f" * 24, 9)

        # Left g2 (the joined-groups delta): its members and version are dropped.
        core.events.clear()
        server.joined = _delta(2, delete=["g2"])
        await groups.sync_groups("op", all_members=True)
        assert [cb for cb, _ in core.events] == ["OnJoinedGroupDeleted"]
        assert "g2" not in groups.members and "g2" not in groups.versions.members
        asked = [r["groupID"] for r in up.named("/group/get_incremental_group_members_batch")[-1]["reqList"]]
        assert asked == ["g1"]


def _blank_member(**fields: Any) -> dict[str, Any]:
    """The rest of a LocalGroupMember as the core reports it."""
    base = {
        "nickname": "",
        "faceURL": "",
        "joinTime": 0,
        "joinSource": 0,
        "inviterUserID": "",
        "muteEndTime": 0,
        "operatorUserID": "",
        "ex": "",
        "attachedInfo": "",
    }
    return {**base, **fields}
