"""The webhook scan looks only at what changed (issue 14): an idle node asks its store nothing.

It used to read the target of every live session every second, which was most of an idle
node's CPU. Now a scan looks at the sessions whose core started, whose target was set or
whose worker ended since the last one (and at every live one every `_FULL_SCAN_EVERY`
scans, here pushed out of reach): counts of store reads, no timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio

from bridge import webhooks
from bridge.webhook_store import WebhookTarget
from bridge.webhooks import WebhookDispatcher
from tests.support.stack import Stack, run_stack
from tests.support.wait import wait_until
from tests.support.webhook_receiver import WebhookReceiver


def _count_target_reads(dispatcher: WebhookDispatcher) -> list[set[str]]:
    """The session ids of each store read of webhook targets from now on."""
    asked: list[set[str]] = []
    targets = dispatcher.store.targets

    async def counting(session_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        asked.append(set(session_ids))
        return await targets(session_ids)

    dispatcher.store.targets = counting  # type: ignore[method-assign]
    return asked


@pytest_asyncio.fixture
async def fast_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    monkeypatch.setattr(webhooks, "_FULL_SCAN_EVERY", 10**9)  # only the first scan is a full one
    async with run_stack(tmp_path, webhook_scan_interval=0.02, webhook_allow_private=True) as stack:
        yield stack


async def test_an_idle_node_scans_nothing_and_a_change_asks_about_that_session_only(fast_scans: Stack) -> None:
    stack = fast_scans
    dispatcher: WebhookDispatcher = stack.bridge.app.state.webhooks
    a_id, b_id, c_id = await stack.new_users(3, "whs")
    a, b = await stack.login(a_id), await stack.login(b_id)

    asked = _count_target_reads(dispatcher)
    await wait_until(lambda: not dispatcher._dirty, 15, "the logins' scan")
    asked.clear()
    scans = dispatcher._scans
    await wait_until(lambda: dispatcher._scans >= scans + 10, 15, "ten scans")
    assert asked == []  # two live sessions, nothing changed: not one store read

    c = await stack.login(c_id)  # a core starts: that session is looked at, once
    await wait_until(lambda: bool(asked), 15, "the scan of the new session")
    assert asked == [{c.session_id}]

    async with WebhookReceiver() as own:
        r = await stack.http.put(
            f"{stack.bridge.url}/v1/session/webhook", headers=a.auth, json={"url": own.url, "secret": "s" * 16}
        )
        assert r.status_code == 200, r.text
        handle = stack.bridge.pool.handle(a.session_id)
        assert handle is not None
        await wait_until(lambda: handle.hooked, 15, "a's webhook worker to start")
    assert {b.session_id} not in asked and all(s == {c.session_id} or s == {a.session_id} for s in asked)


async def test_a_single_node_never_reads_every_live_sessions_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full scan finds targets set through another node; one node alone set them all
    through its own routes, which mark the session: it reads nothing, however often."""
    monkeypatch.setattr(webhooks, "_FULL_SCAN_EVERY", 2)
    async with run_stack(tmp_path, webhook_scan_interval=0.02, webhook_allow_private=True) as stack:
        dispatcher: WebhookDispatcher = stack.bridge.app.state.webhooks
        assert not dispatcher.store.shared
        (a_id,) = await stack.new_users(1, "whn")
        await stack.login(a_id)
        asked = _count_target_reads(dispatcher)
        await wait_until(lambda: not dispatcher._dirty, 15, "the login's scan")
        asked.clear()
        scans = dispatcher._scans
        await wait_until(lambda: dispatcher._scans >= scans + 10, 15, "ten scans")
        assert asked == []  # five of them were full scans before
