"""core/transport/http1.py: the upstream API's HTTP/1.1 subset, exact bytes in, one response out."""

from __future__ import annotations

import gzip
import zlib

import pytest

from core.transport.http1 import ProtocolError, Response, ResponseParser, encode_post


def _parse(*chunks: bytes, eof: bool = False, **limits: int) -> Response | None:
    p = ResponseParser(**limits)
    out = None
    for c in chunks:
        out = p.feed(c)
    return p.feed_eof() if eof else out


def test_encode_post_is_the_request_httpx_sent() -> None:
    got = encode_post("127.0.0.1:10002", "/auth/parse_token", {"operationID": "op", "token": ""}, b'{"a":1}')
    assert got == (
        b"POST /auth/parse_token HTTP/1.1\r\nHost: 127.0.0.1:10002\r\nContent-Type: application/json\r\n"
        b'Content-Length: 7\r\noperationID: op\r\ntoken: \r\n\r\n{"a":1}'
    )


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "caf\u00e9", "\x00"])
def test_encode_post_refuses_values_that_would_split_the_request(value: str) -> None:
    with pytest.raises(ProtocolError):
        encode_post("h", "/r", {"token": value}, b"{}")
    with pytest.raises(ProtocolError):
        encode_post("h", "/r" + value, {}, b"{}")


def test_content_length_in_one_piece_and_byte_by_byte() -> None:
    raw = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"errCode":0}'
    whole = _parse(raw)
    assert whole == Response(200, {"content-type": "application/json", "content-length": "13"}, b'{"errCode":0}', True)
    p = ResponseParser()
    results = [p.feed(raw[i : i + 1]) for i in range(len(raw))]
    assert results[:-1] == [None] * (len(raw) - 1) and results[-1] == whole


def test_chunked_with_extensions_and_trailers() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\n"
    assert _parse(raw) == Response(200, {"transfer-encoding": "chunked"}, b"abcdef", True)
    assert _parse(*(raw[i : i + 1] for i in range(len(raw)))) == _parse(raw)


def test_interim_answers_are_skipped_and_close_is_honoured() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert _parse(raw) == Response(502, {"connection": "close", "content-length": "0"}, b"", False)


def test_http10_and_read_until_close() -> None:
    p = ResponseParser()
    assert p.feed(b"HTTP/1.0 200 OK\r\n\r\n{}") is None
    assert p.feed(b"[]") is None
    assert p.feed_eof() == Response(200, {}, b"{}[]", False)


def test_gzip_and_deflate_bodies_are_inflated_within_the_bound() -> None:
    body = gzip.compress(b'{"errCode":0}')
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    assert _parse(head + body) is not None and _parse(head + body).body == b'{"errCode":0}'  # type: ignore[union-attr]
    bomb = zlib.compress(b"0" * 2_000_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(bomb)
    with pytest.raises(ProtocolError, match="decompressed"):
        _parse(head + bomb, max_body=1_000_000)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n",  # more than we asked for
    ],
)
def test_garbage_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        _parse(raw)


def test_bounds_on_head_body_and_chunks() -> None:
    with pytest.raises(ProtocolError, match="head too large"):
        _parse(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100, max_head=64)
    with pytest.raises(ProtocolError, match="too large"):
        _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", max_body=1000)
    with pytest.raises(ProtocolError, match="too large"):
        _parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + b"a" * 1024 + b"\r\n400\r\n",
            max_body=1500,
        )
    p = ResponseParser(max_body=10)
    p.feed(b"HTTP/1.1 200 OK\r\n\r\n12345")
    with pytest.raises(ProtocolError, match="too large"):
        p.feed(b"678901")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
)
def test_a_close_mid_response_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError, match="disconnected"):
        _parse(raw, eof=True)
