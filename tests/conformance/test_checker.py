"""What the check reports, one kind of mistake at a time, as the real server would see it."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import httpx
import pytest

from core.modules import group as group_module
from core.protocol import openim_pb2 as pb
from core.transport.api import ApiClient
from tests.support.conformance.recorder import Answer, Collector, collecting
from tests.support.conformance.wasm_descriptors import Schema


def _http(schema: Schema, route: str, body: Any) -> list[str]:
    collector = Collector(schema)
    collector.http_request(route, body)
    return [f"{f.path} {f.problem}" for f in collector.findings.values()]


def _gateway(schema: Schema, ident: int, payload: bytes) -> list[str]:
    collector = Collector(schema)
    collector.gateway_request(ident, payload)
    return [f"{f.path} {f.problem}" for f in collector.findings.values()]


_CONV = {"conversationID": "si_a_b", "conversationType": 1, "userID": "b"}


def test_a_conforming_body_passes(schema: Schema) -> None:
    body = {
        "userIDs": ["a"],
        "conversation": {**_CONV, "isPinned": True, "burnDuration": 30, "ex": None, "minSeq": 2**62},
    }
    assert _http(schema, "/conversation/set_conversations", body) == []


def test_a_wrong_field_name_fails(schema: Schema) -> None:
    assert _http(schema, "/group/get_groups_info", {"groupIDs": ["g"], "groupIds": ["g"]}) == [
        "groupIds differs from field 'groupIDs' of openim.group.GetGroupsInfoReq in case only"
    ]
    assert _http(schema, "/group/get_groups_info", {"groupIDs": ["g"], "groupList": ["g"]}) == [
        "groupList is not a field of openim.group.GetGroupsInfoReq"
    ]
    nested = {"groupInfo": {"groupName": "x", "groupKind": 2}, "ownerUserID": "o"}
    assert _http(schema, "/group/create_group", nested) == [
        "groupInfo.groupKind is not a field of openim.sdkws.GroupInfo"
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("7", "is a string, must be an integer number (int64)"),
        (7.0, "is the float 7.0, must be an integer number (int64)"),
        (7.5, "is a number with a fraction, must be an integer number (int64)"),
        (True, "is a boolean, must be an integer number (int64)"),
        (2**63, f"{2**63} is out of range {-(2**63)}..{2**63 - 1} (int64)"),
    ],
)
def test_int64_is_a_json_integer(schema: Schema, value: Any, problem: str) -> None:
    body = {"conversationID": "c", "userID": "u", "seq": value}
    assert _http(schema, "/msg/revoke_msg", body) == [f"seq {problem}"]


def test_wrapper_fields_are_bare_values(schema: Schema) -> None:
    body = {"userIDs": ["a"], "conversation": {**_CONV, "isPinned": {"value": True}, "recvMsgOpt": "2"}}
    assert _http(schema, "/conversation/set_conversations", body) == [
        "conversation.isPinned is an object, must be true or false"
        " (openim.protobuf.BoolValue is its bare value in JSON)",
        "conversation.recvMsgOpt is a string, must be an integer number"
        " (openim.protobuf.Int32Value is its bare value in JSON)",
    ]


def test_repeated_map_and_message_shapes(schema: Schema) -> None:
    assert _http(schema, "/group/get_groups_info", {"groupIDs": "g"}) == [
        "groupIDs is a string, must be an array of string"
    ]
    assert _http(schema, "/group/get_groups_info", {"groupIDs": ["g", None, 3]}) == [
        "groupIDs[1] is null inside an array",
        "groupIDs[2] is an integer, must be a string (string)",
    ]
    assert _http(schema, "/group/create_group", {"groupInfo": [], "ownerUserID": "o"}) == [
        "groupInfo is an array, must be an object (openim.sdkws.GroupInfo)"
    ]


def test_missing_required_ids_fail(schema: Schema) -> None:
    assert _http(schema, "/msg/mark_conversation_as_read", {"conversationID": "c", "hasReadSeq": 0}) == [
        "userID is empty: the server's Check() refuses it ('userID')",
        "hasReadSeq is 0, must be >= 1: the server's Check() refuses it ('hasReadSeq >= 1')",
    ]
    # `x.GroupIDs == nil` in Check(): [] decodes to a non-nil slice and passes, absent fails.
    assert _http(schema, "/group/get_groups_info", {"groupIDs": []}) == []
    assert _http(schema, "/group/get_groups_info", {}) == [
        "groupIDs is empty: the server's Check() refuses it ('groupIDs')"
    ]
    joined = {"groupID": "g", "joinSource": 2}
    assert _http(schema, "/group/join_group", joined) == [
        "inviterUserID is empty: the server's Check() refuses it ('if joinSource == 2: inviterUserID')"
    ]


def test_fields_a_v383_server_ignores_fail_when_set(schema: Schema) -> None:
    page = {"pageNumber": 1, "showNumber": 100}
    body = {"fromUserID": "u", "pagination": page, "groupIDs": [], "handleResults": []}
    assert _http(schema, "/group/get_recv_group_applicationList", body) == []
    assert _http(schema, "/group/get_recv_group_applicationList", {**body, "handleResults": [0]}) == [
        "handleResults is not in openim.group.GetGroupApplicationListReq of protocol v0.0.72-alpha.71:"
        " open-im-server v3.8.3 ignores it"
    ]


def test_routes_outside_the_protobuf_api_fail(schema: Schema) -> None:
    assert _http(schema, "/msg/send_msg", {}) == [
        "(route) is not a protobuf-typed route (apistruct.SendMsgReq (app managers only))"
    ]
    assert _http(schema, "/group/get_group_info", {}) == ["(route) is not a route of open-im-server v3.8.3"]


def test_gateway_payloads_are_checked_as_protobuf(schema: Schema) -> None:
    assert _gateway(schema, 1001, pb.GetMaxSeqReq(userID="u").SerializeToString()) == []
    assert _gateway(schema, 2003, pb.DelUserPushTokenReq(userID="u", platformID=5).SerializeToString()) == []
    assert _gateway(schema, 2003, b"") == [
        "userID is empty: the server's Check() refuses it ('userID')",
        "platformID is 0, must be in 1..9: the server's Check() refuses it ('platformID in 1..9')",
    ]
    # field 2 (varint) is not in GetMaxSeqReq; field 1 as a fixed32 is the wrong wire type
    assert _gateway(schema, 1001, b"\x0a\x01u\x10\x01") == ["#2 field number 2 is not in openim.sdkws.GetMaxSeqReq"]
    assert _gateway(schema, 1001, b"\x0d\x00\x00\x00\x00") == [
        "userID sent with wire type 5; openim.sdkws.GetMaxSeqReq.userID is string (wire type 2)"
    ]
    seq_range = pb.SeqRange(conversationID="c", begin=1, end=2).SerializeToString()
    pull = pb.PullMessageBySeqsReq(userID="u", seqRanges=[pb.SeqRange(conversationID="c")]).SerializeToString()
    odd_range = seq_range + b"\x2a\x03abc"  # and a string as field 5
    payload = pull + b"\x12" + bytes([len(odd_range)]) + odd_range  # a second seqRanges element
    assert _gateway(schema, 1002, payload) == ["seqRanges[1].#5 field number 5 is not in openim.sdkws.SeqRange"]
    assert _gateway(schema, 1999, b"") == ["(reqIdentifier) is not a request the v3.8.3 gateway handles"]


def test_answer_reads_are_checked_against_the_response_message(schema: Schema) -> None:
    collector = Collector(schema)
    raw = {"groupInfos": [{"groupID": "g", "groupName": "n"}], "extra": {"x": 1}}
    data = collector.http_response("/group/get_groups_info", raw)
    assert isinstance(data, dict) and data == raw
    group = data["groupInfos"][0]
    assert (group.get("groupID"), group.get("ownerUserID"), "ex" in group) == ("g", None, False)
    assert collector.findings == {}
    assert group.get("groupId") is None and data.get("groupinfo") is None
    assert [f"{f.path} {f.problem}" for f in collector.findings.values()] == [
        "groupInfos[].groupId is read by core but is not a field of openim.sdkws.GroupInfo"
        " (the field is 'groupID': Go writes names exactly)",
        "groupinfo is read by core but is not a field of openim.group.GetGroupsInfoResp",
    ]
    # Copies are plain dicts (a checkpoint or a cache holds no checking).
    assert type(copy.deepcopy(group)) is dict and type(pickle.loads(pickle.dumps(group))) is dict
    assert json.loads(json.dumps(data)) == raw


def test_map_answers_accept_any_key(schema: Schema) -> None:
    collector = Collector(schema)
    raw = {"seqs": {"si_a_b": {"maxSeq": 3, "hasReadSeq": 1}}}
    data = collector.http_response("/msg/get_conversations_has_read_and_max_seq", raw)
    seqs = data["seqs"]["si_a_b"]
    assert isinstance(seqs, Answer) and seqs.get("maxSeq") == 3
    seqs.get("maxseq")
    assert [f.path for f in collector.findings.values()] == ["seqs[si_a_b].maxseq"]


async def test_core_traffic_is_recorded_through_the_api_client(schema: Schema) -> None:
    """The installed recorder sees what ApiClient.post sends and what its caller reads."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errCode": 0, "errMsg": "", "data": {"usersInfo": [{"userID": "a"}]}})

    collector = Collector(schema)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        api = ApiClient(http, "http://upstream.invalid", token="t")
        with collecting(collector):
            data = await api.post("/user/get_users_info", {"userIDs": ["a"], "userIds": ["a"]}, "op")
            data["usersInfo"][0].get("nickName")
    assert collector.http == {"/user/get_users_info": 1}
    assert [f"{f.where}: {f.path}" for f in collector.findings.values()] == [
        "POST /user/get_users_info: userIds",
        "read /user/get_users_info: usersInfo[].nickName",
    ]
    assert next(iter(collector.findings.values())).first_test.endswith(
        "test_core_traffic_is_recorded_through_the_api_client"
    )


def test_notification_tips_reads_are_checked(schema: Schema) -> None:
    """Core reads a notification's tips (content `{"detail": "<tips JSON>"}`) in every module."""
    tips = {"group": {"groupID": "g"}, "kickedUserList": [{"userID": "b"}]}
    content = json.dumps({"detail": json.dumps(tips)}).encode()
    collector = Collector(schema)
    with collecting(collector):
        # the name core.modules.group calls (it imported tips_of from core.modules.base)
        read = group_module.tips_of(pb.MsgData(contentType=1508, content=content))  # type: ignore[attr-defined]
    assert read == tips
    assert read["group"].get("groupID") == "g" and read["kickedUserList"][0].get("userID") == "b"
    read.get("kickedUsers")
    assert [f"{f.where}: {f.path} {f.problem}" for f in collector.findings.values()] == [
        "read tips of 1508: kickedUsers is read by core but is not a field of openim.sdkws.MemberKickedTips"
    ]
