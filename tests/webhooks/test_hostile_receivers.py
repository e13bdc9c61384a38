"""Webhook receivers written by a hostile session owner: a PUT /v1/session/webhook URL is
anyone's. One that answers 200 and then streams a body without end, or that trickles its
answer a byte at a time, must cost the bridge one bounded POST (BRIDGE_WEBHOOK_TIMEOUT),
never a worker, a connection of the pool the cores call OpenIM with, or unbounded memory."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.stack import BridgeUser, Stack, run_stack
from tests.support.wait import wait_until
from tests.support.webhook_receiver import WebhookReceiver


class HostileReceiver:
    """Counts the POSTs it gets, then answers as `mode` says:
    `endless` - a 200 head, then a chunked body that never ends;
    `trickle` - the status line one byte every 20 ms, forever."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.posts = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> HostileReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:  # keep-alive: every request of the connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.posts += 1
                if self.mode == "endless":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
                    while True:
                        writer.write(chunk)
                        await writer.drain()
                        await asyncio.sleep(0.001)  # lets the loop breathe; still ~16 MB/s
                else:
                    for byte in b"HTTP/1.1 200 OK\r\n":
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(0.02)
                    while True:
                        writer.write(b"X")
                        await writer.drain()
                        await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with run_stack(
        tmp_path,
        webhook_scan_interval=0.05,
        webhook_allow_private=True,
        webhook_retry_base=0.05,
        webhook_retry_cap=0.1,
        webhook_max_attempts=3,
        webhook_timeout=1.0,
    ) as stack:
        yield stack


async def _hook(stack: Stack, user: BridgeUser, url: str) -> None:
    r = await stack.http.put(
        f"{stack.bridge.url}/v1/session/webhook", headers=user.auth, json={"url": url, "secret": "s" * 16}
    )
    assert r.status_code == 200, r.text


async def _rename(user: BridgeUser, name: str) -> None:
    await user.call("/v1/user/set_self_info", {"nickname": name})  # one OnSelfInfoUpdated each


async def test_a_200_with_an_endless_body_is_taken_as_the_ack_and_delivery_goes_on(stack: Stack) -> None:
    """The status says the receiver took the event: its body is not the bridge's to read whole.
    It was: `post()` buffered the endless body (1.8 GB in 16 s, live), so the worker never
    moved on and the process grew until the OOM killer ended every session."""
    (u,) = await stack.new_users(1, "whe")
    user = await stack.login(u)
    async with HostileReceiver("endless") as receiver:
        await _hook(stack, user, receiver.url)
        await _rename(user, "first")
        await wait_until(lambda: receiver.posts >= 1, 15, "the first POST")
        await _rename(user, "second")
        await wait_until(lambda: receiver.posts >= 2, 15, "the next event's POST after an endless answer")
    assert stack.bridge.app.state.webhooks.dead_letters_total == 0


async def test_an_answer_trickled_forever_is_cut_at_the_webhook_timeout(stack: Stack) -> None:
    """httpx's timeout is per read, so a byte every 20 ms never tripped the 10 s of
    BRIDGE_WEBHOOK_TIMEOUT: the worker, and a connection of the pool every core calls
    OpenIM with, were held for good. The timeout bounds the whole exchange."""
    (u,) = await stack.new_users(1, "wht")
    user = await stack.login(u)
    dispatcher = stack.bridge.app.state.webhooks
    async with HostileReceiver("trickle") as receiver:
        await _hook(stack, user, receiver.url)
        await _rename(user, "slow")
        await wait_until(lambda: dispatcher.failed_attempts_total >= 1, 15, "a trickled answer to count as failed")
        await wait_until(lambda: receiver.posts >= 2, 15, "the retry")
    # The other sessions' cores never share a connection pool with a receiver.
    assert dispatcher._http is not stack.bridge.app.state.services.http


async def test_a_name_that_resolves_inward_after_the_check_gets_no_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the URL's host resolved to a public address when it was set, and to
    loopback (or 169.254.169.254) when the bridge POSTs. The address is checked where the
    connection is made, so the bridge's network gets nothing."""
    import bridge.webhook_targets

    real = bridge.webhook_targets.resolve
    answers = {"first": True}

    async def rebinding(host: str, port: int) -> list[Any]:
        if answers.pop("first", False):
            return [ipaddress.ip_address("93.184.216.34")]  # public, once: for the check at PUT time
        return await real(host, port)

    monkeypatch.setattr(bridge.webhook_targets, "resolve", rebinding)
    async with (
        WebhookReceiver() as inside,
        run_stack(
            tmp_path,
            webhook_scan_interval=0.05,
            webhook_retry_base=0.01,
            webhook_retry_cap=0.02,
            webhook_max_attempts=2,
        ) as stack,
    ):
        (u,) = await stack.new_users(1, "whr")
        user = await stack.login(u)
        await _hook(stack, user, f"http://localhost:{inside.port}/hook")
        await _rename(user, "rebound")
        dispatcher = stack.bridge.app.state.webhooks
        await wait_until(lambda: dispatcher.dead_letters_total >= 1, 15, "the event to be given up on")
        assert inside.deliveries == []


async def test_the_guard_connects_to_the_public_addresses_it_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the guard: a public name is connected to by the address it was checked
    as (so no second lookup can differ), the next one if the first refuses."""
    import httpcore

    import bridge.webhook_targets
    from bridge.webhook_targets import PublicOnlyBackend

    async def public(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address("2606:2800:220:1::1"), ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(bridge.webhook_targets, "resolve", public)
    tried: list[str] = []

    class Inner(httpcore.AsyncMockBackend):
        async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
            tried.append(host)
            if ":" in host:
                raise httpcore.ConnectError("no IPv6 route")
            return await super().connect_tcp(host, port, *args, **kwargs)

    stream = await PublicOnlyBackend(Inner([])).connect_tcp("hooks.example.com", 443)
    await stream.aclose()
    assert tried == ["2606:2800:220:1::1", "93.184.216.34"]


async def test_host_lookups_that_never_answer_hold_at_most_two_resolver_threads(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook host under a name server that never answers holds the thread its lookup runs
    in until the resolver gives up. Those threads are the loop's few (6 on this machine), and
    every new connection the cores make resolves through them: six PUTs of such URLs stalled
    them all. Lookups for webhooks are capped (2 in flight) and time-bounded."""
    import threading

    import bridge.webhook_targets

    monkeypatch.setattr(bridge.webhook_targets, "LOOKUP_TIMEOUT", 0.5)
    release = threading.Event()
    stuck: list[str] = []
    real = socket.getaddrinfo

    def blackholed(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".blackhole.test"):
            stuck.append(str(host))
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "blackholed")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", blackholed)
    stack.bridge.settings.webhook_allow_private = False  # the checked path (the fixture allows loopback)
    users = [await stack.login(u) for u in await stack.new_users(6, "whd")]
    try:
        answers = await asyncio.gather(
            *(
                stack.http.put(
                    f"{stack.bridge.url}/v1/session/webhook",
                    headers=u.auth,
                    json={"url": f"http://h{i}.blackhole.test/hook", "secret": "s" * 16},
                )
                for i, u in enumerate(users)
            )
        )
        assert [r.status_code for r in answers] == [400] * 6, [r.text for r in answers]
        assert len(stuck) <= 2, stuck
        assert (await users[0].call("/v1/user/get_self_user_info"))["userID"] == users[0].user_id
    finally:
        release.set()
        await wait_until(lambda: bridge.webhook_targets._lookups_in_flight == 0, 15, "the lookups to end")
