"""Property-based: no bytes or JSON from the upstream make a core's decoders raise (issue 10).

Every decoder a peer's message passes through gets arbitrary input: message
contents of every content type (core/msgstruct.py), notification tips, the
JSON and gob envelopes, push frames and a core's push handling. None raises
anything but its module's own error type, and what a core hands on to clients
is strict JSON (what Starlette's JSONResponse and the oimws encoder accept).
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.core import Core, CoreConfig
from core.errors import SdkError
from core.events import Event
from core.modules.base import tips_of
from core.msgstruct import ELEM_FIELDS, from_msgdata
from core.protocol import gob
from core.protocol.envelope import EnvelopeError, WsReq, WsResp, decode_json_req, decode_json_resp, gunzip
from core.protocol.jsonlimits import JsonDepthError, check_depth, loads_bounded
from core.protocol.openim_pb2 import MsgData, PullMsgs, PushMessages
from core.untrusted import flag, int_list, integer, load_json, mapping, str_list, text
from tests.support.fuzz import (
    CONTENT_TYPES,
    contents,
    deep_json,
    fuzz,
    hostile_text,
    json_values,
    strict_json,
    tips_contents,
)

I64 = range(-(2**63), 2**63)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


# -- bounded JSON ------------------------------------------------------------


@fuzz
@given(json_values, st.integers(min_value=0, max_value=8))
def test_check_depth_counts_exactly_the_nesting(value: Any, limit: int) -> None:
    doc = json.dumps(value)
    if _depth(value) > limit:
        with pytest.raises(JsonDepthError):
            check_depth(doc, limit)
    else:
        check_depth(doc, limit)
        assert json.dumps(loads_bounded(doc, limit)) == json.dumps(json.loads(doc))


@fuzz
@given(st.one_of(hostile_text, hostile_text.map(lambda t: t.encode("utf-16", "surrogatepass")), st.binary()))
def test_loads_bounded_raises_value_errors_only(doc: str | bytes) -> None:
    with contextlib.suppress(ValueError):
        loads_bounded(doc)


def test_deep_nesting_is_refused_before_parsing() -> None:
    for doc in ("[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000, ("[" * 3000).encode("utf-16")):
        with pytest.raises(JsonDepthError):
            loads_bounded(doc)
    # Brackets inside strings are text, escaped quotes included.
    assert loads_bounded(json.dumps(["[" * 3000, '\\"' + "{" * 100])) == ["[" * 3000, '\\"' + "{" * 100]


@fuzz
@given(st.one_of(hostile_text, contents))
def test_load_json_returns_strict_json_or_raises_value_error(doc: str | bytes) -> None:
    try:
        value = load_json(doc)
    except ValueError:
        return
    strict_json(value)


def test_load_json_refuses_what_go_refuses_and_repairs_what_go_repairs() -> None:
    for doc in ("NaN", '{"a": Infinity}', "1e400", "9" * 5000, "[" * 100 + "]" * 100):
        with pytest.raises(ValueError):
            load_json(doc)
    # encoding/json replaces invalid UTF-8 and lone surrogates with U+FFFD.
    assert load_json('{"\\ud800": "a\\udfffb", "ok": "\\ud83d\\ude00"}') == {"\ufffd": "a\ufffdb", "ok": "😀"}
    assert load_json(b'"\xff"') == "\ufffd"


@fuzz
@given(json_values, st.sampled_from(["k", "missing"]))
def test_typed_reads_tolerate_every_json_type(value: Any, key: str) -> None:
    obj = {"k": value}
    assert isinstance(text(obj, key), str)
    assert integer(obj, key) in I64
    assert isinstance(flag(obj, key), bool)
    assert isinstance(mapping(obj, key), dict)
    ints = int_list(obj, key, 3)
    assert len(ints) <= 3 and all(type(n) is int and n in I64 for n in ints)
    strs = str_list(obj, key, 3)
    assert len(strs) <= 3 and all(isinstance(s, str) for s in strs)
    assert text(value, key) == "" or isinstance(value, dict)  # not an object: nothing to read


# -- message contents and tips -----------------------------------------------


@fuzz
@given(CONTENT_TYPES, st.one_of(contents, tips_contents), st.integers(min_value=0, max_value=2**63 - 1))
def test_from_msgdata_delivers_every_content_as_strict_json(content_type: int, content: bytes, seq: int) -> None:
    m = MsgData(sendID="a", recvID="b", clientMsgID="c", contentType=content_type, content=content, seq=seq)
    msg = from_msgdata(m)
    out = msg.out()
    strict_json(out)
    assert out["contentType"] == content_type and out["seq"] == seq
    name = ELEM_FIELDS.get(content_type)
    if content and name is not None and msg.elem() is None:
        assert msg.content, "what does not parse is shown raw"


def test_deeply_nested_text_is_delivered_raw() -> None:
    nested = "[" * 3000 + "]" * 3000
    msg = from_msgdata(MsgData(contentType=101, content=nested.encode(), seq=1))
    assert msg.textElem is None and msg.content == nested
    invalid = from_msgdata(MsgData(contentType=101, content=b'{"content": "\xff\xfe"}', seq=2))
    assert invalid.textElem == {"content": "\ufffd\ufffd"}


@fuzz
@given(CONTENT_TYPES, tips_contents)
def test_tips_of_is_always_an_object(content_type: int, content: bytes) -> None:
    tips = tips_of(MsgData(contentType=content_type, content=content))
    assert isinstance(tips, dict)
    strict_json(tips)


# -- envelopes -------------------------------------------------------------------

_ENVELOPE_KEYS = ["reqIdentifier", "msgIncr", "operationID", "errCode", "errMsg", "data", "token", "sendID"]
_envelopes = st.one_of(
    st.binary(),
    hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.fixed_dictionaries({}, optional={k: json_values for k in _ENVELOPE_KEYS}).map(lambda d: json.dumps(d).encode()),
    deep_json().map(lambda t: ('{"data":' + t + "}").encode()),
)


@fuzz
@given(_envelopes)
def test_json_envelope_decoders_raise_envelope_error_only(frame: bytes) -> None:
    for decode in (decode_json_resp, decode_json_req):
        with contextlib.suppress(EnvelopeError):
            decode(frame)


@fuzz
@given(st.binary(max_size=200).flatmap(lambda raw: _mutated(gzip.compress(raw))) | st.binary(max_size=100))
def test_gunzip_raises_envelope_error_only(frame: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        gunzip(frame, limit=1 << 16)


def _mutated(frame: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, max(0, len(frame) - 1)), st.binary(max_size=4), st.integers(0, 3)).map(
        lambda t: frame[: t[0]] + t[1] + frame[t[0] + t[2] :]
    )


_gob_frames = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda ident, s, data: gob.encode_req(WsReq(ident, s, s, s, data, s)),
        st.integers(-(2**31), 2**31 - 1),
        st.text(max_size=10),
        st.binary(max_size=20),
    ).flatmap(_mutated),
    st.builds(
        lambda ident, code, s, data: gob.encode_resp(WsResp(ident, s, s, code, s, data)),
        st.integers(-(2**31), 2**31 - 1),
        st.integers(-(2**63), 2**63 - 1),
        st.text(max_size=10),
        st.binary(max_size=20),
    ).flatmap(_mutated),
)


@fuzz
@given(_gob_frames)
def test_gob_decoders_raise_envelope_error_only(frame: bytes) -> None:
    for decode in (gob.decode_req, gob.decode_resp):
        with contextlib.suppress(EnvelopeError):
            decode(frame)


# -- a core's push handling -------------------------------------------------------


def _ok_api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"errCode": 0, "errMsg": "", "data": {}})


@pytest.fixture
async def api_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_ok_api)) as http:
        yield http


def _core(http: httpx.AsyncClient, events: list[Event], inbox_size: int = 10_000) -> Core:
    async def sink(ev: Event) -> None:
        strict_json(ev.to_json_obj())  # what the bridge encodes for clients
        events.append(ev)

    core = Core(
        CoreConfig("http://upstream.invalid", "ws://upstream.invalid", 5, inbox_size=inbox_size), http=http, sink=sink
    )
    core.user_id = "me"
    return core


_msgdata = st.builds(
    lambda ct, content, send_id, session_type: MsgData(
        sendID=send_id, recvID="me", clientMsgID="cm", contentType=ct, content=content, sessionType=session_type
    ),
    CONTENT_TYPES,
    st.one_of(contents, tips_contents),
    st.sampled_from(["me", "peer", ""]),
    st.sampled_from([1, 3, 4, 0, 99]),
)


def _push(msgs: list[MsgData]) -> PushMessages:
    push = PushMessages()
    push.msgs["si_me_peer"].CopyFrom(PullMsgs(Msgs=msgs))
    return push


@fuzz
@given(st.binary(max_size=300))
async def test_on_push_of_any_bytes_never_raises(api_http: httpx.AsyncClient, data: bytes) -> None:
    core = _core(api_http, [])
    await core.on_push(WsResp(2001, "", "op", data=data))
    assert core.stats.bad_pushes == 1 or core._inbox.qsize() >= 0  # parsed (any bytes may) or skipped


@fuzz
@given(st.lists(_msgdata, max_size=5))
async def test_on_push_queues_or_counts_every_message(api_http: httpx.AsyncClient, msgs: list[MsgData]) -> None:
    core = _core(api_http, [], inbox_size=2)
    await core.on_push(WsResp(2001, "", "op", data=_push(msgs).SerializeToString()))
    assert core._inbox.qsize() == min(len(msgs), 2)
    assert core.stats.inbox_dropped == max(0, len(msgs) - 2)
    assert core._resync_pending == (len(msgs) > 2)


@fuzz
@given(_msgdata, st.sampled_from(["si_me_peer", "sg_g1", "n_si_me_peer", "n_sg_g1"]), st.booleans())
async def test_pushed_messages_raise_sdk_errors_only(
    api_http: httpx.AsyncClient, m: MsgData, conv_id: str, online_only: bool
) -> None:
    events: list[Event] = []
    core = _core(api_http, events)
    core.message.synced[conv_id] = 40  # a read receipt may name seqs we have (then they are fetched)
    m.seq = 0 if online_only else 41
    try:
        if m.seq == 0 and conv_id.startswith("n_"):
            await core.route_notification(m, "op")
        else:
            await core.message.on_pushed(conv_id, m, "op")
        await core.conversation.flush("op")
    except SdkError:
        pass  # the upstream cannot be reached here: fine, that is the module's own error


async def test_undecodable_push_is_counted_and_skipped(api_http: httpx.AsyncClient) -> None:
    core = _core(api_http, [])
    await core.on_push(WsResp(2001, "", "op", data=b"\xff\xff\xff"))
    assert core.stats.bad_pushes == 1 and core._inbox.empty()


async def test_business_notification_needs_a_string_detail(api_http: httpx.AsyncClient) -> None:
    events: list[Event] = []
    core = _core(api_http, events)
    for content in (b"[" * 3000, b'{"detail": {"x": 1}}', b"[1]", b"\xff"):
        await core.route_notification(MsgData(contentType=2001, content=content), "op")
    assert core.stats.bad_pushes == 4 and not events
    await core.route_notification(MsgData(contentType=2001, content=b'{"detail": "hi"}'), "op")
    assert [e.data for e in events] == ["hi"]
