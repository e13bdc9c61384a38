"""`/v1/events?maxSeconds=N` ends cleanly with the cursor, for wx.request's 60 s (issue 16)."""

from __future__ import annotations

from tests.support.sseclient import SseReader
from tests.support.stack import Stack


async def test_a_bounded_stream_ends_with_its_cursor_and_resumes_from_it(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2, "mp")
    a, b = await stack.login(a_id, 6), await stack.login(b_id)  # 6: MiniWeb, as a mini-program logs in
    url = f"{stack.bridge.url}/v1/events?maxSeconds=1&lastEventId=0&access_token={a.session_token}"
    first = await SseReader(stack.http, url).start()
    try:
        await first.wait_ended(timeout=10)
    finally:
        await first.close()
    assert first.status == 200
    *events, end = first.events
    assert events, "the replay from 0 sent the login events"
    assert end.event == "streamEnd" and end.json == {"reason": "maxSeconds", "lastEventId": events[-1].id}
    assert end.id == events[-1].id  # EventSource-style clients resume from it by themselves
    # Something happens while the client is between two requests: the next one gets it.
    await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "while away"})
    url = f"{stack.bridge.url}/v1/events?maxSeconds=5&lastEventId={end.json['lastEventId']}"
    second = await SseReader(stack.http, url, {**a.auth}).start()
    try:
        (added,) = await second.wait_for("OnFriendApplicationAdded")
    finally:
        await second.close()
    assert added.json["data"]["reqMsg"] == "while away"
    assert all(e.id is None or e.id > end.json["lastEventId"] for e in second.events)


async def test_max_seconds_out_of_range_is_a_400_naming_it(stack: Stack) -> None:
    (u,) = await stack.new_users(1, "mp")
    user = await stack.login(u)
    r = await stack.http.get(f"{stack.bridge.url}/v1/events?maxSeconds=0.5", headers=user.auth)
    assert r.status_code == 400 and r.json()["fields"] == ["maxSeconds"]
