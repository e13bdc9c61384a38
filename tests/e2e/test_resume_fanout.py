"""Resume with Last-Event-ID replays exactly what was missed; streams fan out."""

from __future__ import annotations

from pathlib import Path

from tests.support.stack import Stack, run_stack


async def test_resume_after_close_gets_exactly_the_missed_events(stack: Stack) -> None:
    a_id, b_id, c_id = await stack.new_users(3)
    a, b, c = await stack.login(a_id), await stack.login(b_id), await stack.login(c_id)
    s1 = await a.stream()
    await b.call("/v1/friend/add_friend", {"toUserID": a_id})
    (first,) = await s1.wait_for("OnFriendApplicationAdded")
    assert first.id is not None
    last_seen = s1.events[-1].id
    assert last_seen is not None
    await s1.close()

    # While A's stream is closed: two more applications and an accept.
    await c.call("/v1/friend/add_friend", {"toUserID": a_id})
    await a.call("/v1/friend/accept_friend_application", {"toUserID": b_id})
    info = await a.session()
    missed_upto = info["lastEventID"]
    assert missed_upto > last_seen

    s2 = await a.stream(last_event_id=last_seen)
    try:
        await s2.wait_for("OnFriendAdded")
        await s2.wait_for("OnFriendApplicationAdded", lambda d: d["data"]["fromUserID"] == c_id)
        ids = [e.id for e in s2.events if e.id is not None]
        assert len(ids) == len(s2.events) and ids == sorted(ids) and len(ids) == len(set(ids))
        assert ids[0] == last_seen + 1, "resume must start right after the last seen id"
        assert all(i is not None and i > last_seen for i in ids)
        assert not s2.named("reset")
        # Exactly the missed ones: the replay covers last_seen+1 .. missed_upto with no gap.
        replayed = [i for i in ids if i is not None and i <= missed_upto]
        assert replayed == list(range(last_seen + 1, missed_upto + 1))
    finally:
        await s2.close()


async def test_two_streams_on_one_session_both_get_every_event(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    s1, s2 = await a.stream(), await a.stream()
    try:
        await b.call("/v1/friend/add_friend", {"toUserID": a_id})
        await a.call("/v1/friend/accept_friend_application", {"toUserID": b_id})
        for s in (s1, s2):
            await s.wait_for("OnFriendAdded")
        assert [(e.id, e.event) for e in s1.events] == [(e.id, e.event) for e in s2.events]
    finally:
        await s1.close()
        await s2.close()


async def test_resume_from_an_expired_id_gets_reset(tmp_path: Path) -> None:
    async with run_stack(tmp_path, event_max=3) as small:
        a_id, b_id, c_id, d_id = await small.new_users(4)
        a = await small.login(a_id)
        for other in (b_id, c_id, d_id):
            u = await small.login(other)
            await u.call("/v1/friend/add_friend", {"toUserID": a_id})
        info = await a.session()
        assert info["lastEventID"] > 3
        s = await a.stream(last_event_id=0)
        try:
            (reset,) = await s.wait_for("reset")
            assert reset.json["lastEventId"] == 0
        finally:
            await s.close()


async def test_events_accept_access_token_query_and_reject_bad_cursor(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    r = await stack.http.get(f"{stack.bridge.url}/v1/events/poll", params={"access_token": a.session_token})
    assert r.status_code == 200
    r = await stack.http.get(f"{stack.bridge.url}/v1/events", headers={**a.auth, "Last-Event-ID": "abc"})
    assert r.status_code == 400 and "abc" in r.json()["detail"]


async def test_long_poll_returns_events_after_cursor(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    start = (await a.session())["lastEventID"]
    await b.call("/v1/friend/add_friend", {"toUserID": a_id}, op="op-poll")
    r = await stack.http.get(f"{stack.bridge.url}/v1/events/poll", params={"after": start, "wait": 5}, headers=a.auth)
    body = r.json()["data"]
    names = [e["event"] for e in body["events"]]
    if "OnFriendApplicationAdded" not in names:  # the notification may land after the first wake-up
        r = await stack.http.get(
            f"{stack.bridge.url}/v1/events/poll", params={"after": body["lastEventID"], "wait": 5}, headers=a.auth
        )
        names += [e["event"] for e in r.json()["data"]["events"]]
    assert "OnFriendApplicationAdded" in names


async def test_every_stream_of_a_session_gets_each_message_once_in_order(stack: Stack) -> None:
    # The stream writes what one read returns as one chunk (issue 14): a message and its
    # conversation events, or a burst of messages, must still arrive whole, once, in order.
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    streams = [await b.stream() for _ in range(3)]
    texts = [f"m{i}" for i in range(30)]
    try:
        for text in texts:
            msg = await a.call("/v1/message/create_text_message", {"text": text})
            await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        for s in streams:
            got = await s.wait_for("OnRecvNewMessage", count=len(texts))
            assert [e.json["data"]["textElem"]["content"] for e in got] == texts
            seqs = [e.json["data"]["seq"] for e in got]
            assert seqs == sorted(set(seqs)), "each message once, in seq order"
            ids = [e.id for e in s.events if e.id is not None]
            assert ids == sorted(set(ids)), "event ids once, increasing"
        conv_id = f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"
        await b.call("/v1/message/mark_conversation_message_as_read", {"conversationID": conv_id})
        ends = [(await s.wait_for("OnTotalUnreadMessageCountChanged", lambda d: d["data"] == 0))[0].id for s in streams]
        end = ends[0]
        assert end is not None and ends == [end] * len(streams)
        seen = [[(e.id, e.event, e.data) for e in s.events if e.id is not None and e.id <= end] for s in streams]
        assert seen[0] == seen[1] == seen[2], "the streams of a session send the same events"
    finally:
        for s in streams:
            await s.close()
