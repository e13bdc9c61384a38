"""The checkpoint database (PostgreSQL) unreachable while the bridge runs.

The bridge reaches the machine's PostgreSQL through a TCP relay the test cuts
(tests/support/tcprelay.py), so the outage is a real one for the bridge and
nobody else. Live sessions need no database and keep working; what needs a
checkpoint (a login, a revival) fails fast with 503 naming the database; a
logout still ends the session; and service resumes by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.cluster import fresh_database
from tests.support.stack import Stack, run_stack
from tests.support.tcprelay import TcpRelay, tcp_relay

pytestmark = pytest.mark.services


@pytest.fixture
async def relayed(tmp_path: Path) -> AsyncIterator[tuple[Stack, TcpRelay]]:
    async with fresh_database("oimb_outage") as url:
        real = make_url(url)
        async with tcp_relay(real.host or "127.0.0.1", real.port or 5432) as relay:
            through = real.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
            async with run_stack(tmp_path, database_url=through) as stack:
                yield stack, relay


async def test_database_outage_fails_fast_and_recovers(relayed: tuple[Stack, TcpRelay]) -> None:
    stack, relay = relayed
    a_id, b_id, c_id = await stack.new_users(3)
    a = await stack.login(a_id)
    tokens = {u: await stack.token(u) for u in (b_id, c_id)}

    await relay.cut()
    # A live session needs no database.
    assert (await a.call("/v1/user/get_self_user_info"))["userID"] == a_id
    # A login needs its checkpoint: 503, the database named, no secret in the answer.
    r = await stack.http.post(
        f"{stack.bridge.url}/v1/login",
        json={"userID": b_id, "token": tokens[b_id], "platformID": 5},
        headers={"operationID": "op-db-down"},
    )
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["errCode"] == 500 and "checkpoint database unavailable" in body["detail"]
    assert r.headers["retry-after"] == "1" and body["operationID"] == "op-db-down"
    # Logout still ends the session (its checkpoint is simply not updated).
    assert (await a.post("/v1/logout")).status_code == 200
    assert (await a.post("/v1/user/get_self_user_info")).status_code == 401
    assert stack.bridge.pool.live_cores == 0  # the failed login left no core behind

    await relay.start()  # the database is back: nothing to restart
    b = await stack.login(b_id, token=tokens[b_id])
    c = await stack.login(c_id, token=tokens[c_id])
    await b.call("/v1/friend/add_friend", {"toUserID": c_id, "reqMsg": "back"})
    assert [x["fromUserID"] for x in await c.call("/v1/friend/get_friend_application_list_as_recipient")] == [b_id]
