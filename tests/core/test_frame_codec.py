"""What a long text costs on the wire: message content as UTF-8 JSON, the envelope
gzipped, and what the reader refuses (no I/O)."""

from __future__ import annotations

import json
import random

import pytest

from core.msgstruct import MsgStruct, to_msgdata
from core.protocol.envelope import (
    EnvelopeError,
    FrameTooLargeError,
    WsReq,
    encode_json_req,
    gunzip,
    gzip_bytes,
    is_gzip,
)
from core.transport.gateway import GatewayOptions

OPENIM_LIMIT = 51200  # open-im-server internal/msggateway/constant.go maxMessageSize


def text_msg(text: str) -> MsgStruct:
    msg = MsgStruct(
        clientMsgID="c" * 32,
        sendID="alice",
        recvID="bob",
        sessionType=1,
        contentType=101,
        msgFrom=100,
        senderPlatformID=5,
        createTime=1_700_000_000_000,
    )
    msg.textElem = {"content": text}
    return msg


def send_frame(text: str, gzip: bool) -> bytes:
    data = to_msgdata(text_msg(text)).SerializeToString()
    raw = encode_json_req(WsReq(1003, "alice", "o" * 32, "alice_" + "0" * 16, data))
    return gzip_bytes(raw, GatewayOptions().compression_level) if gzip else raw


def random_text(n: int, lo: int, hi: int, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(chr(rnd.randint(lo, hi)) for _ in range(n))


def test_content_is_compact_json_with_utf8_not_escapes() -> None:
    data = to_msgdata(text_msg("你好, <b>"))
    assert data.content == '{"content":"你好, <b>"}'.encode()
    assert json.loads(data.content) == {"content": "你好, <b>"}


def test_a_lone_surrogate_keeps_its_escape_so_the_content_stays_utf8() -> None:
    data = to_msgdata(text_msg("a\ud800b"))
    assert data.content == b'{"content":"a\\ud800b"}'
    assert json.loads(data.content.decode("utf-8")) == {"content": "a\ud800b"}


@pytest.mark.parametrize(
    ("text", "fits_plain"),
    [
        pytest.param(random_text(9000, 0x4E00, 0x9FA5, 1), True, id="9000 random CJK"),
        pytest.param(random_text(10_000, 0x4E00, 0x9FA5, 2), True, id="10000 random CJK"),
        pytest.param(random_text(10_000, 0x20000, 0x2A6DF, 3), False, id="10000 random CJK extension B (4 bytes)"),
    ],
)
def test_texts_within_the_documented_limit_fit_openims_frame_limit(text: str, fits_plain: bool) -> None:
    assert len(send_frame(text, gzip=True)) < OPENIM_LIMIT
    assert (len(send_frame(text, gzip=False)) <= OPENIM_LIMIT) is fits_plain


def test_gzip_frames_are_sniffed_and_bounded() -> None:
    raw = encode_json_req(WsReq(1001, "u", "op", "u_1"))
    assert not is_gzip(raw) and is_gzip(gzip_bytes(raw))
    assert gunzip(gzip_bytes(raw)) == raw
    bomb = gzip_bytes(b"{" + b" " * 100_000 + b"}")
    assert len(bomb) < 1000
    with pytest.raises(FrameTooLargeError):
        gunzip(bomb, limit=50_000)
    with pytest.raises(EnvelopeError) as info:
        gunzip(b"\x1f\x8bnot gzip")
    assert not isinstance(info.value, FrameTooLargeError)


def test_gunzip_reads_members_as_gzip_file_does_and_checks_their_trailers() -> None:
    # Go's gzip.Reader (and Python's GzipFile) read concatenated members and ignore zero padding.
    assert gunzip(gzip_bytes(b"ab") + gzip_bytes(b"cd") + b"\0\0") == b"abcd"
    assert gunzip(gzip_bytes(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(FrameTooLargeError):
        gunzip(gzip_bytes(b"ab") + gzip_bytes(b"x" * 100), limit=100)
    whole = gzip_bytes(b"hello world")
    bad_crc = bytearray(whole)
    bad_crc[-8] ^= 1  # the CRC-32 of RFC 1952's trailer
    for broken in (whole[:-3], bytes(bad_crc), whole + b"junk"):
        with pytest.raises(EnvelopeError) as info:
            gunzip(broken)
        assert not isinstance(info.value, FrameTooLargeError)


def test_defaults_follow_openim() -> None:
    opt = GatewayOptions()
    assert opt.compression and opt.max_send_frame == OPENIM_LIMIT
    assert opt.max_frame >= 100 * (OPENIM_LIMIT + 1024), "a 100-message pull of frame-sized messages fits"
