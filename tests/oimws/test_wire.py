"""The oimws wire format, exact bytes (no I/O)."""

from __future__ import annotations

import json

import pytest

from bridge.eventlog import StoredEvent
from bridge.oimws.pump import to_frame
from bridge.oimws.wire import FrameError, error_frame, event_frame, parse_request, result_frame


def test_request_as_open_im_sdk_sends_it() -> None:
    frame = json.dumps(
        {"reqFuncName": "AddBlack", "operationID": "op1", "userID": "u1", "data": json.dumps(["u2", ""])}
    )
    req = parse_request(frame, 1024)
    assert (req.func, req.operation_id, req.user_id, req.args) == ("AddBlack", "op1", "u1", ["u2", ""])
    assert parse_request(frame.encode(), 1024) == req


def test_result_frames_encode_data_as_go_json_marshal() -> None:
    assert result_frame("AddFriend", "op1", None) == (
        '{"event":"AddFriend","errCode":0,"errMsg":"","data":"\\"\\"","operationID":"op1"}'
    )
    assert (
        result_frame("GetLoginStatus", "o", 3)
        == '{"event":"GetLoginStatus","errCode":0,"errMsg":"","data":"3","operationID":"o"}'
    )
    assert json.loads(json.loads(result_frame("GetFriendList", "o", [{"userID": "ü"}]))["data"]) == [{"userID": "ü"}]
    assert '"data":"[{\\"userID\\":\\"ü\\"}]"' in result_frame("GetFriendList", "o", [{"userID": "ü"}])


def test_error_frame() -> None:
    assert error_frame("Login", "op", 10102, "this connection is already logged in") == (
        '{"event":"Login","errCode":10102,"errMsg":"this connection is already logged in","data":"","operationID":"op"}'
    )


def test_event_frames_follow_oimws_listeners() -> None:
    # A JSON object payload: data is its JSON text.
    assert event_frame("OnFriendAdded", {"userID": "u2"}, "op7") == (
        '{"event":"OnFriendAdded","errCode":0,"errMsg":"","data":"{\\"userID\\":\\"u2\\"}","operationID":"op7"}'
    )
    # No argument: data is empty (not the JSON of ""), as sendEventSuccessRespNoData.
    assert event_frame("OnConnectSuccess", None, None) == (
        '{"event":"OnConnectSuccess","errCode":0,"errMsg":"","data":"","operationID":""}'
    )
    # A count: fmt.Sprintf("%d").
    assert json.loads(event_frame("OnTotalUnreadMessageCountChanged", 4, None))["data"] == "4"
    # A string argument goes through verbatim.
    assert json.loads(event_frame("OnUserTokenInvalid", "token invalid", None))["data"] == "token invalid"
    # OnConnectFailed(errCode, errMsg) puts its arguments in errCode/errMsg.
    failed = json.loads(event_frame("OnConnectFailed", {"errCode": 10000, "errMsg": "dial"}, None))
    assert (failed["errCode"], failed["errMsg"], failed["data"]) == (10000, "dial", "")


def test_logged_events_become_frames_only_when_they_are_listener_callbacks() -> None:
    logged = json.dumps({"listener": "OnFriendshipListener", "callback": "OnFriendAdded", "data": {"userID": "u"}})
    assert to_frame(StoredEvent(1, "OnFriendAdded", logged)) == event_frame("OnFriendAdded", {"userID": "u"}, None)
    assert to_frame(StoredEvent(2, "callResult", json.dumps({"operationID": "x", "errCode": 0}))) is None
    assert to_frame(StoredEvent(3, "reset", "not json")) is None


@pytest.mark.parametrize(
    ("frame", "event", "words"),
    [
        ("{", "Protocol Error", "not JSON"),
        ("null", "Protocol Error", "got null"),
        ('{"reqFuncName": "", "operationID": "o"}', "Protocol Error", "reqFuncName"),
        ('{"reqFuncName": "X", "operationID": "o", "data": 5}', "X", "data must be a string"),
        ('{"reqFuncName": "X", "operationID": "o", "data": "5"}', "X", "got number"),
        ('{"reqFuncName": "X", "operationID": "o", "data": "[1,"}', "X", "data is not JSON text"),
        ('{"reqFuncName": "X"}', "X", "operationID"),
        ('{"reqFuncName": "X", "operationID": "' + "o" * 129 + '"}', "X", "operationID"),
    ],
)
def test_bad_requests_name_the_problem(frame: str, event: str, words: str) -> None:
    with pytest.raises(FrameError) as info:
        parse_request(frame, 1024)
    assert info.value.event == event and info.value.code == 10002 and words in info.value.message


def test_size_limit_counts_utf8_bytes() -> None:
    frame = json.dumps({"reqFuncName": "X", "operationID": "o", "data": "[]", "pad": "é" * 20}, ensure_ascii=False)
    assert len(frame) < 90 < len(frame.encode())
    with pytest.raises(FrameError, match="larger than the 90-byte limit"):
        parse_request(frame, 90)
