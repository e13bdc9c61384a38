"""The gateway client's RFC 6455 frame reader (core/transport/wsframes.py), by property (issue 14).

Server frames are built here from the RFC (5.2: unmasked, as a server sends them),
then cut at random points: whatever the split, the reader yields the same
messages; whatever the bytes, it raises nothing but CloseError, with the code
RFC 6455 7.4.1 gives the fault. The connection (gateway_conn.py) is fed the same
way: a hostile stream ends in a close frame with that code, never an exception.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.transport import wsframes as wf
from core.transport.gateway_conn import GatewayConnection, State

MAX = 4096


def server_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bool = False) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = bytes((b0, n | (0x80 if mask else 0)))
    elif n < 1 << 16:
        head = bytes((b0, 126 | (0x80 if mask else 0))) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 127 | (0x80 if mask else 0))) + n.to_bytes(8, "big")
    if mask:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def unmask_client_frame(frame: bytes) -> tuple[int, bytes]:
    """Our own frames: always masked (RFC 6455 5.3)."""
    assert frame[1] & 0x80, "a client frame must be masked"
    n, pos = frame[1] & 0x7F, 2
    if n == 126:
        n, pos = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, pos = int.from_bytes(frame[2:10], "big"), 10
    key = frame[pos : pos + 4]
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(frame[pos + 4 : pos + 4 + n]))


@dataclass
class Recorder:
    got: list[tuple[int, bytes]] = field(default_factory=list)

    def __call__(self, opcode: int, payload: bytes) -> None:
        self.got.append((opcode, payload))


def feed_in_pieces(reader: wf.FrameReader, data: bytes, cuts: list[int]) -> None:
    last = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        reader.feed(data[last:cut])
        last = cut
    reader.feed(data[last:])


# A message: opcode, payload, how it is fragmented, pings between its fragments.
message = st.tuples(
    st.sampled_from([wf.BINARY, wf.TEXT]),
    st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode), st.binary(min_size=126, max_size=MAX)),
    st.lists(st.integers(min_value=0, max_value=MAX), max_size=4),
    st.booleans(),
)


def encode(messages: list[tuple[int, bytes, list[int], bool]]) -> tuple[bytes, list[tuple[int, bytes]]]:
    wire, expect = b"", []
    for opcode, payload, cuts, ping in messages:
        if opcode == wf.TEXT:
            payload = payload.decode(errors="replace").encode()
        points = sorted({c % (len(payload) + 1) for c in cuts})
        pieces = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
        for i, piece in enumerate(pieces):
            wire += server_frame(opcode if i == 0 else wf.CONT, piece, fin=i == len(pieces) - 1)
            if ping and i < len(pieces) - 1:
                wire += server_frame(wf.PING, b"between fragments")  # 5.4: control frames may interleave
                expect.append((wf.PING, b"between fragments"))
        expect.append((opcode, payload))
    return wire, expect


@given(st.lists(message, max_size=6), st.lists(st.integers(min_value=0), max_size=12))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_split_of_any_fragmentation_yields_the_same_messages(
    messages: list[tuple[int, bytes, list[int], bool]], cuts: list[int]
) -> None:
    wire, expect = encode(messages)
    rec = Recorder()
    feed_in_pieces(wf.FrameReader(rec, MAX), wire, cuts)
    assert rec.got == expect


@given(st.integers(min_value=MAX + 1, max_value=1 << 40), st.booleans())
@settings(deadline=None)
def test_a_message_over_the_limit_is_refused_from_its_header(size: int, fragmented: bool) -> None:
    reader = wf.FrameReader(Recorder(), MAX)
    if fragmented:  # the limit is on the whole message (websockets' max_size), not per frame
        reader.feed(server_frame(wf.BINARY, b"x" * MAX, fin=False))
        size = 1
    head = server_frame(wf.CONT if fragmented else wf.BINARY, b"")[:1]
    head += bytes((127,)) + size.to_bytes(8, "big")
    with pytest.raises(wf.CloseError) as caught:
        reader.feed(head)  # no payload sent: refused before it is buffered
    assert caught.value.code == wf.MESSAGE_TOO_BIG


BAD_FRAMES = [
    (server_frame(wf.BINARY, b"x", rsv=1), 1002),
    (server_frame(wf.BINARY, b"x", rsv=4), 1002),
    (server_frame(wf.BINARY, b"masked", mask=True), 1002),
    (server_frame(0x3, b""), 1002),
    (server_frame(0x7, b""), 1002),
    (server_frame(0xB, b""), 1002),
    (server_frame(0xF, b""), 1002),
    (server_frame(wf.PING, b"p" * 126), 1002),
    (server_frame(wf.CLOSE, b"\x03\xe8" + b"r" * 124), 1002),
    (server_frame(wf.PING, b"p", fin=False), 1002),
    (server_frame(wf.CONT, b"orphan"), 1002),
    (server_frame(wf.BINARY, b"a", fin=False) + server_frame(wf.TEXT, b"b"), 1002),
    (server_frame(wf.TEXT, b"\xff\xfe"), 1007),
    (server_frame(wf.TEXT, b"\xe2\x82", fin=False) + server_frame(wf.CONT, b"\x28"), 1007),
    (b"\x82\x7f\x80" + bytes(7), 1002),  # 64-bit length with its top bit set
]


@pytest.mark.parametrize(("wire", "code"), BAD_FRAMES)
def test_frames_a_client_must_refuse_raise_their_close_code(wire: bytes, code: int) -> None:
    with pytest.raises(wf.CloseError) as caught:
        wf.FrameReader(Recorder(), MAX).feed(wire)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("payload", "expect"),
    [(b"", (1005, "")), (b"\x03\xe8", (1000, "")), (b"\x0f\xa0bye", (4000, "bye")), (b"\x03\xee", None)],
)
def test_close_payloads(payload: bytes, expect: tuple[int, str] | None) -> None:
    if expect is None:
        with pytest.raises(wf.CloseError):
            wf.parse_close(payload)
    else:
        assert wf.parse_close(payload) == expect
    for bad in (b"\x03", b"\x03\xe8\xff", b"\x00\x00", b"\x03\xed"):  # one byte, bad UTF-8, 0, 1005
        with pytest.raises(wf.CloseError):
            wf.parse_close(bad)


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=8))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_raise_nothing_but_close_error(data: bytes, cuts: list[int]) -> None:
    try:
        feed_in_pieces(wf.FrameReader(Recorder(), MAX), data, cuts)
    except wf.CloseError as exc:
        assert exc.code in (1002, 1007, 1009)


@given(st.binary(max_size=70000))
@settings(max_examples=50, deadline=None)
def test_client_frames_are_masked_and_round_trip(payload: bytes) -> None:
    frame = wf.client_frame(wf.BINARY, payload)
    assert unmask_client_frame(frame) == (wf.BINARY, payload)


# -- the connection fed the same way: a close frame with the code, never an exception ----------


class Transport(asyncio.Transport):
    """Records what the connection writes; enough of a transport for data_received."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


def open_conn(messages: list[bytes]) -> tuple[GatewayConnection, Transport]:
    conn = GatewayConnection(b"GET / HTTP/1.1\r\n\r\n", b"k", messages.append, lambda: None, MAX)
    transport = Transport()
    conn.connection_made(transport)
    conn.state = State.OPEN  # as after a 101 (the handshake has tests of its own)
    conn._hs = None
    assert conn._opened is not None
    conn._opened.cancel()
    transport.written.clear()
    return conn, transport


def close_codes(transport: Transport) -> list[int]:
    frames = [unmask_client_frame(w) for w in transport.written]
    return [int.from_bytes(p[:2], "big") for op, p in frames if op == wf.CLOSE]


@pytest.mark.parametrize(("wire", "code"), [*BAD_FRAMES, (server_frame(wf.BINARY, b"x" * (MAX + 1)), 1009)])
async def test_the_connection_fails_a_hostile_stream_with_its_close_code(wire: bytes, code: int) -> None:
    got: list[bytes] = []
    conn, transport = open_conn(got)
    conn.data_received(server_frame(wf.BINARY, b"before") + wire + server_frame(wf.BINARY, b"after"))
    assert got == [b"before"]
    assert close_codes(transport) == [code] and transport.closed and conn.sent_code == code
    conn.data_received(server_frame(wf.BINARY, b"later"))  # a failed connection reads nothing more
    assert got == [b"before"] and close_codes(transport) == [code]


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=6))
@settings(max_examples=200, deadline=None)
def test_the_connection_never_raises_on_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    async def run() -> None:
        got: list[bytes] = []
        conn, transport = open_conn(got)
        last = 0
        for cut in sorted({c % (len(data) + 1) for c in cuts}):
            conn.data_received(data[last:cut])
            last = cut
        conn.data_received(data[last:])
        assert all(code in (1000, 1002, 1007, 1009) or 3000 <= code <= 4999 for code in close_codes(transport))

    asyncio.run(run())


async def test_pings_are_answered_with_their_payload_and_a_close_is_echoed() -> None:
    conn, transport = open_conn([])
    conn.data_received(server_frame(wf.PING, b"are you there"))
    assert [unmask_client_frame(w) for w in transport.written] == [(wf.PONG, b"are you there")]
    transport.written.clear()
    conn.data_received(server_frame(wf.CLOSE, b"\x03\xe9going away"))
    assert close_codes(transport) == [1001] and conn.rcvd_code == 1001 and conn.state is State.CLOSING
    conn.connection_lost(None)
    assert conn.state.name == "CLOSED"
