"""`Prefer: respond-async` goes through the one call path: idempotent, answered once (issue 11)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.clock import wait_until
from tests.support.stack import BridgeUser, Stack


async def _call_results(stack: Stack, user: BridgeUser, op: str) -> list[dict[str, object]]:
    log = await stack.bridge.app.state.services.events.read_after(user.session_id, 0)
    found = [json.loads(e.data) for e in log.events if e.event == "callResult"]
    return [r for r in found if r["operationID"] == op]


async def _befriend(a: BridgeUser, b: BridgeUser) -> None:
    await a.call("/v1/friend/add_friend", {"toUserID": b.user_id})
    await b.call("/v1/friend/accept_friend_application", {"toUserID": a.user_id})


async def test_a_retried_async_call_runs_once_and_answers_once(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    await _befriend(a, b)
    calls = stack.bridge.app.state.services.calls
    body = {"friendUserID": b_id}
    # A second delete_friend would fail (not friends any more): running twice shows.
    sent = await asyncio.gather(
        *(a.post("/v1/friend/delete_friend", body, op="op-async-once", Prefer="respond-async") for _ in range(4))
    )
    assert [r.status_code for r in sent] == [202] * 4
    await wait_until(lambda: not calls._background, what="the async calls to finish")
    (result,) = await _call_results(stack, a, "op-async-once")
    assert result["errCode"] == 0, result
    # Later retries, async or not, replay the one outcome.
    again = await a.post("/v1/friend/delete_friend", body, op="op-async-once", Prefer="respond-async")
    assert again.status_code == 202
    sync = await a.post("/v1/friend/delete_friend", body, op="op-async-once")
    assert sync.status_code == 200, sync.text
    await wait_until(lambda: not calls._background, what="the async calls to finish")
    assert len(await _call_results(stack, a, "op-async-once")) == 1


async def test_an_async_call_with_another_functions_operation_id_is_refused_at_once(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    await a.call("/v1/user/set_self_info", {"nickname": "x"}, op="op-used")
    r = await a.post("/v1/friend/add_friend", {"toUserID": "nobody"}, op="op-used", Prefer="respond-async")
    assert r.status_code == 409 and "already used" in r.json()["detail"], r.text


async def test_async_calls_without_operation_id_each_run(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    s = await a.stream()
    try:
        ops = []
        for _ in range(2):
            r = await a.post("/v1/user/get_self_user_info", Prefer="respond-async")
            assert r.status_code == 202
            ops.append(r.json()["operationID"])
        assert ops[0] != ops[1]
        for op in ops:

            def answers(d: Any, op: str = op) -> bool:
                return bool(d["operationID"] == op)

            (res,) = await s.wait_for("callResult", answers)
            assert res.json["data"]["userID"] == a_id
    finally:
        await s.close()
