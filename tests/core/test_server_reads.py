"""core/server_reads.py decodes server answers as the Go SDK's json.Unmarshal does (issue 11)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from core import server_reads as R
from core.errors import SdkError
from core.models import LocalFriend, LocalGroupMember
from core.protocol.errcodes import ErrCode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import parse_bench as B  # type: ignore[import-not-found]  # bench/ is not a package: its answers and baseline

_CASES = [(name, make, old, new) for name, make, old, new in B.SHAPES]


@pytest.mark.parametrize(("name", "make", "old", "new"), _CASES, ids=[c[0] for c in _CASES])
def test_an_openim_answer_reads_as_the_hand_parsing_did(name: str, make: Any, old: Any, new: Any) -> None:
    item = make(7)
    got = new(item)
    assert got == old(item)
    # Built without a second validation (_checked) or not, it is the model a validation makes.
    again = type(got).model_validate(got.model_dump())
    assert got == again
    assert got.model_dump_json() == again.model_dump_json()
    assert list(got.__dict__) == list(type(got).model_fields)


def test_missing_fields_are_go_zero_values_and_unknown_keys_are_ignored() -> None:
    member = R.member_from_server({"groupID": "g", "userID": "u", "attachedInfo": "x", "later": {"a": 1}})
    # Go: roleLevel absent -> 0 (LocalGroupMember's own default is 20); sdkws has no attachedInfo.
    assert member == LocalGroupMember(groupID="g", userID="u", roleLevel=0)
    assert R.group_from_server({"groupID": "g"}).groupType == 0
    assert R.friend_from_server({"ownerUserID": "me"}) == LocalFriend(ownerUserID="me", userID="")


def test_nulls_read_as_zero_values() -> None:
    friend = B._friend(1)
    friend["remark"] = None
    friend["friendUser"]["nickname"] = None
    got = R.friend_from_server(friend)
    assert (got.remark, got.nickname, got.userID) == ("", "", "u1")
    member = {**B._member(1), "nickname": None}
    assert R.member_from_server(member) == R.member_from_server({**B._member(1), "nickname": ""})
    assert R.friend_from_server({**B._friend(1), "friendUser": None}).userID == ""


@pytest.mark.parametrize(
    ("read", "item", "field"),
    [
        (R.friend_from_server, {**B._friend(1), "createTime": "1764000000000"}, "createTime"),
        (R.friend_from_server, {**B._friend(1), "isPinned": 1}, "isPinned"),
        (R.friend_from_server, {**B._friend(1), "friendUser": {"userID": 5}}, "friendUser.userID"),
        (R.member_from_server, {**B._member(1), "roleLevel": 20.0}, "roleLevel"),
        (R.member_from_server, {**B._member(1), "appMangerLevel": "0"}, "appMangerLevel"),  # dropped, still checked
        (R.group_from_server, {**B._group(1), "status": True}, "status"),
        (R.request_from_server, "not an object", "(the object)"),
        (R.group_request_from_server, {**B._group_request(1), "groupInfo": []}, "groupInfo"),
    ],
)
def test_a_wrong_json_type_fails_the_answer_naming_the_field(read: Any, item: Any, field: str) -> None:
    with pytest.raises(SdkError) as caught:
        read(item)
    assert caught.value.code == ErrCode.SdkInternalError
    assert f".{field}:" in str(caught.value)


def test_the_fast_and_the_exact_path_agree() -> None:
    """An object with exactly the message's keys skips the sdkws model; one more key takes it."""
    for read, make in ((R.member_from_server, B._member), (R.group_from_server, B._group)):
        item = make(3)
        fast: BaseModel = read(item)
        exact: BaseModel = read({**item, "unknown": 1})
        assert fast == exact


@pytest.mark.parametrize(
    ("read", "make", "nested"),
    [
        (R.friend_from_server, B._friend, ("friendUser",)),
        (R.black_from_server, B._black, ("blackUserInfo",)),
        (R.group_request_from_server, B._group_request, ("groupInfo", "userInfo")),
    ],
)
def test_a_null_or_absent_nested_message_reads_as_its_zero_value(read: Any, make: Any, nested: tuple[str, ...]) -> None:
    item = make(2)
    null = read({**item, **dict.fromkeys(nested)})
    absent = read({k: v for k, v in item.items() if k not in nested})
    empty = read({**item, **{k: {} for k in nested}})  # every field of the nested message zero
    assert null == absent == empty
    assert null.userID == "" and null != read(item)


def test_a_flattening_table_naming_a_field_the_message_lacks_is_refused() -> None:
    from core.models import LocalBlack
    from core.protocol.sdkws import BlackInfo

    with pytest.raises(ValueError, match=r"LocalBlack.nickname: BlackInfo has no blackUserInfo.nick"):
        R._flattened(LocalBlack, BlackInfo, {"userID": "blackUserInfo.userID", "nickname": "blackUserInfo.nick"})
    with pytest.raises(ValueError, match=r"LocalBlack.userID: BlackInfo has no userID"):
        R._flattened(LocalBlack, BlackInfo, {})
