"""The events one push produces reach the durable log in one append, so one commit (issue 14).

A delivered message fires OnRecvNewMessage, OnConversationChanged and
OnTotalUnreadMessageCountChanged; each used to be its own event-log append,
awaited in turn (four commits in a row with the delivery mark). On the durable
default (SQLite) they are now one ``append_many`` of the receiver's log, one
transaction of the group writer (tests/test_sqlstore.py), in order, with
consecutive ids and the message's delivery mark. The sender's side likewise: its
conversation update and the delivery mark of its message's echo are one append.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bridge.eventlog import Entry, StoredEvent
from bridge.eventlog.sql import SqlEventLog
from tests.support.stack import BridgeUser, run_stack

DELIVERED = ["OnRecvNewMessage", "OnConversationChanged", "OnTotalUnreadMessageCountChanged"]


async def _send(a: BridgeUser, to: str, text: str) -> Any:
    msg = await a.call("/v1/message/create_text_message", {"text": text})
    return await a.call("/v1/message/send_message", {"message": msg, "recvID": to})


async def test_a_delivered_message_is_one_append_in_order_with_consecutive_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_stack(tmp_path, ephemeral=False) as stack:
        log = stack.bridge.app.state.services.events
        assert isinstance(log, SqlEventLog), "the durable default"
        writes: list[tuple[str, list[str]]] = []  # (session, event names) per write of the log
        append_many, mark = log.append_many, log.mark

        async def counting_many(sid: str, events: Sequence[Entry], **kw: Any) -> list[StoredEvent]:
            writes.append((sid, [e for e, _, _ in events]))
            return await append_many(sid, events, **kw)

        async def counting_mark(sid: str, marks: Sequence[tuple[str, int]], **kw: Any) -> None:
            writes.append((sid, []))
            await mark(sid, marks, **kw)

        monkeypatch.setattr(log, "append_many", counting_many)
        monkeypatch.setattr(log, "mark", counting_mark)
        a_id, b_id = await stack.new_users(2)
        a, b = await stack.login(a_id), await stack.login(b_id)
        sb = await b.stream()
        try:
            await _send(a, b_id, "first")  # the conversation is new: OnNewConversation too
            await sb.wait_for("OnTotalUnreadMessageCountChanged", lambda d: d["data"] == 1, timeout=30)
            del writes[:]
            sent = await _send(a, b_id, "second")
            # The sender: its conversation update and its echo's mark, one append before the answer.
            assert [names for sid, names in writes if sid == a.session_id] == [["OnConversationChanged"]]
            conv_id = f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"
            assert (await log.delivered(a.session_id)).get(conv_id) == sent["seq"] > 0
            await sb.wait_for("OnTotalUnreadMessageCountChanged", lambda d: d["data"] == 2, timeout=30)
            assert [names for sid, names in writes if sid == b.session_id] == [DELIVERED]
            after_first = [e for e in sb.events if e.event in DELIVERED][-3:]
            assert [e.event for e in after_first] == DELIVERED
            first_id = after_first[0].id
            assert first_id is not None
            assert [e.id for e in after_first] == [first_id, first_id + 1, first_id + 2]
            assert after_first[0].json["data"]["textElem"]["content"] == "second"
            seq = after_first[0].json["data"]["seq"]
            assert (await log.delivered(b.session_id)).get(conv_id) == seq
        finally:
            await sb.close()
